"""Repeats: a submission that repeats one of its appellant's open appeals joins it. The pure
decision (matching.py) and the step the accepting service takes with the candidates it loaded
(service.py; submissions/store.py reads them with what was answered before)."""
