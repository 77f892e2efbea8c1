"""The benchmark (`make bench`): load.py offers appeals, observe.py reads the milestones off the
topics, pipeline.py runs loads on one running copy of the system (warm-up, idle, a run and its
drain), capacity.py decides the capacity search's steps, goals.py holds the issue's goals,
ceilings.py measures what the broker, the framework and the database do alone, resources.py reads
CPU and memory per process, database.py makes and drops the bench's databases, profile.py runs
py-spy, against.py runs an earlier commit's code from a worktree, report.py turns it all into
figures, run.py wires them."""
