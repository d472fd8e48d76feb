"""Conductor's local runtime (never deployed): moto, the API, the workers and a WebSocket gateway."""
