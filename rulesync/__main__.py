"""`python -m rulesync`."""

from rulesync.cli import entry

entry()
