"""The few exception types rulesync raises; the CLI edge turns each into one line and a code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_INVALID = 2


class RulesyncError(Exception):
    """Base error: a clear one-line message and the exit code it maps to."""

    exit_code = EXIT_INVALID


class InvalidInput(RulesyncError):
    """Bad input or usage (a broken marker, an unknown phase, a bad library): nothing changed."""

    exit_code = EXIT_INVALID


class UnsafePath(InvalidInput):
    """A path that would lead outside the project or the library (a hostile symlink, `..`)."""


class Deferred(RulesyncError):
    """The repository is busy (merge, rebase, lock held…): nothing changed, try again later."""

    exit_code = EXIT_DRIFT


class LockBusy(Deferred):
    """Another rulesync process held the project's lock for longer than we wait."""
