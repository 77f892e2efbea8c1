"""Saved views: a person's named filter sets on a page (their queue, the unit board), one click
to open again."""
