"""Jiban's command line and local infrastructure (embedded Postgres and Kafka-protocol broker)."""
