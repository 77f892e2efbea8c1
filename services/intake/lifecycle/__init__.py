"""What intake keeps of tracking's lifecycle (appeals.lifecycle): the consumer (handlers.py) and
its store."""
