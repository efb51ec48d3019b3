"""Every exception rulesync raises on purpose and the exit code each maps to.

The CLI edge (`rulesync.cli.main`) turns one of these into one line on stderr and its code;
anything else is a bug: exit 3 and one line naming the file that holds the traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_NOT_IN_SYNC = 1  # drift, a conflict, a deferral, a fetch or commit the next run retries
EXIT_DRIFT = EXIT_NOT_IN_SYNC
EXIT_INVALID = 2  # bad input or usage: nothing was changed
EXIT_INTERNAL = 3  # a bug: the traceback is in a file under the log folder
EXIT_INTERRUPTED = 130


class RulesyncError(Exception):
    """Base error: a clear one-line message and the exit code it maps to."""

    exit_code = EXIT_INVALID


class InvalidInput(RulesyncError):
    """Bad input or usage (a broken marker, an unknown phase, a bad library): nothing changed."""

    exit_code = EXIT_INVALID


class UnsafePath(InvalidInput):
    """A path that would lead outside the project or the library (a hostile symlink, `..`)."""


class LibraryMismatch(InvalidInput):
    """The user's settings would make a project follow another library than its committed
    files say: refused, nothing changed."""


class Deferred(RulesyncError):
    """The repository is busy (merge, rebase, lock held…): nothing changed, try again later."""

    exit_code = EXIT_NOT_IN_SYNC


class LockBusy(Deferred):
    """Another rulesync process held the project's lock for longer than we wait."""


class FetchError(RulesyncError):
    """The library repository could not be fetched (offline, unreachable, no such ref); the
    next run fetches again."""

    exit_code = EXIT_NOT_IN_SYNC


class LibraryRewritten(RulesyncError):
    """The followed branch was force-pushed: its new tip does not descend from the served one."""

    exit_code = EXIT_NOT_IN_SYNC


class GitError(RulesyncError):
    """A git command failed (a commit the next run retries, a broken repository)."""

    exit_code = EXIT_NOT_IN_SYNC


class GitTimeout(GitError):
    """A git command over the network gave no answer in time (the next run tries again)."""


class WriteFailed(RulesyncError):
    """Writing the rules failed part way: some files may be written; the next run finishes."""

    exit_code = EXIT_NOT_IN_SYNC


class AlreadyRunning(RulesyncError):
    """Another `rulesync daemon` holds the service lock: nothing was started."""

    exit_code = EXIT_INVALID


class ServiceError(RulesyncError):
    """Installing or removing the service failed; whatever was changed has been undone."""

    exit_code = EXIT_INVALID


class NoServiceManager(ServiceError):
    """No user service manager is reachable (a container, CI, SSH without a login session)."""

    def __init__(self, kind: str | None, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def os_error_text(exc: OSError) -> str:
    """`path: reason` for an OSError, the way every rulesync message names a failed file."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"
