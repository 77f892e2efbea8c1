"""Supervisors and dispatchers: what awaits their ruling."""
