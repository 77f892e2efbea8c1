"""The benchmark (`make bench`): load.py offers appeals, observe.py reads the milestones off the
topics, ceilings.py measures what the broker, the framework and the database do alone,
resources.py reads CPU and memory per process, report.py turns it all into figures, run.py wires
them."""
