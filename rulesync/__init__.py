"""rulesync: keep Cursor rules in step with a project's maturity phase."""

__version__ = "0.1.0"
