"""HTTP edge: blueprints, request parsing, error mapping and middleware."""
