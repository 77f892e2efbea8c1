"""Intake: accepts appeals from every channel and publishes them on the immediate-handling topic."""
