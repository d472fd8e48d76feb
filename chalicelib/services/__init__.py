"""Services: the use cases, built from stores and pure domain code."""
