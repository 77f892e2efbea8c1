"""Repeats: a submission that repeats one of its appellant's open appeals joins it. The pure
decision (matching.py), its candidates (store.py), and the step the accepting service takes
(service.py)."""
