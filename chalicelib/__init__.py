"""Conductor: error recovery, scheduling and webhooks on AWS Lambda (Chalice)."""
