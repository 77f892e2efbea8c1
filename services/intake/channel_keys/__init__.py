"""Channel keys: the keys adapters sign with (keys.py, pure), verifying signatures
(signatures.py, pure), the web channel's rate limit (ratelimit.py, pure), the store, the checks
(service.py), the FastAPI guards (dependencies.py) and the replay-record pruner (worker.py)."""
