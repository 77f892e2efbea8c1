"""The dashboard: rates by month, volume by channel, category and community, rankings and the
five ones, each chart with its numbers in a table."""
