"""The officer\x27s queue: led and assisted appeals, nearest deadline first."""
