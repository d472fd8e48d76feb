"""Pure domain logic: no AWS, no clock or randomness of its own."""
