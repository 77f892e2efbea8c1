"""The directory: officers' duty, leave and capacity edited in place, duty posts, roster import."""
