"""Mechanisms every Jiban service shares: envelope, events, topics, settings, database, outbox,
inbox, consumer, dead letters, logging, metrics. Written once, used by all four services."""
