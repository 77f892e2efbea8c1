"""Tracking codes: the pure format and check (codes.py) and drawing the next one (store.py)."""
