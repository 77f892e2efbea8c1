"""Live notices: what the services announce, shown on open pages within seconds."""
