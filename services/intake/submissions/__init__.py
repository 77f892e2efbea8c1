"""Submissions: the unified form (form.py); the channels' native routes, the unified form and
receipts over HTTP (api.py); the same over the inbound topics (handlers.py); the accepting use
case (service.py) and what it stores (store.py)."""
