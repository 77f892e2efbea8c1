"""Tracking: every appeal's record and history, and each officer's queue, until the loop closes."""
