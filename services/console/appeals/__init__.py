"""The appeal page and the officer\x27s steps on it."""
