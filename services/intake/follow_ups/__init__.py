"""Follow-ups: the result of a call-back (回访), taken over HTTP (api.py), checked and published
for tracking (service.py)."""
