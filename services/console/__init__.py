"""The console: the web front end for officers, supervisors and dispatchers. It acts for the
signed-in person through the other services' public HTTP APIs, with that person's token; its own
tables hold only its sessions and the live notices for open pages."""
