"""Per-project scheduling: pending events and their debounce, retries with backoff, and the
one status record the service writes for each project."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rulesync.daemon.checks import Seen
from rulesync.daemon.events import WatchKind, backoff_delay, debounce_due
from rulesync.project import Inputs
from rulesync.runtime import ProjectStatus

# Backoff for a project that keeps failing: first retry after BASE seconds, doubling, capped.
DEFERRED_BASE = 0.25
FAILED_BASE = 1.0
RETRY = "retry"
# A look once more after a sync whose folders were watched anew (a change in them before
# their watch existed went unseen).
REWATCH = "rewatch"
# A change made this long (seconds) before a sync started may carry a change time older than
# its start: filesystems stamp times from a coarse clock, some to the second or two.
STAMP_SLACK = 2.0
# Every project is read again at least this often (seconds), changed or not: the reconcile
# timer re-reads the projects whose folders changed, and these in turn, the least recent first.
FULL_CYCLE = 3600.0
# A project's watched folders are listed at one timer pass in this many, a share of the
# projects at each (their change events stand for them between); HEAD's files, which nothing
# watches, are looked at every pass.
LIST_EVERY = 4


def now_iso() -> str:
    """The wall-clock time as the status file records it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ProjectState:
    """What the worker knows about one registered project: pending events, retries, status."""

    __slots__ = (
        "burst_after_quiet",
        "cause",
        "failures",
        "first_event",
        "inputs",
        "last_activity",
        "last_event",
        "pending_at",
        "read_at",
        "retry_at",
        "root",
        "seen",
        "status",
    )

    def __init__(self, root: Path) -> None:
        self.root = root
        self.first_event: float | None = None
        self.last_event: float | None = None
        self.pending_at: float | None = None
        self.retry_at: float | None = None
        self.cause = "startup"
        self.last_activity = float("-inf")
        self.burst_after_quiet = False
        self.failures = 0
        self.inputs: Inputs | None = None  # what its last successful sync read
        # Its folders and HEAD as they were just after its last successful sync (None: the
        # next reconcile must read it), and when a sync last read it (monotonic seconds).
        self.seen: Seen | None = None
        self.read_at = float("-inf")
        self.status = ProjectStatus()

    @property
    def key(self) -> str:
        return str(self.root)

    @property
    def remote(self) -> str | None:
        """The library's spec when it is served from git (as of the last successful sync)."""
        return self.inputs.remote if self.inputs is not None else None

    def due(self, debounce: float, max_delay: float) -> float | None:
        """When this project should sync next (None: nothing pending)."""
        times = [t for t in (self.pending_at, self.retry_at) if t is not None]
        if self.first_event is not None and self.last_event is not None:
            times.append(debounce_due(self.first_event, self.last_event, debounce, max_delay))
        return min(times) if times else None

    def mark(self, now: float, cause: str) -> None:
        """Sync as soon as possible (start-up, reconcile, registry, config)."""
        self.pending_at = now if self.pending_at is None else min(self.pending_at, now)
        self.cause = cause

    def on_event(
        self,
        now: float,
        kind: WatchKind,
        debounce: float,
        busy: Callable[[], bool],
        *,
        saved: bool = False,
    ) -> None:
        """A watched file changed: debounce it, unless it is a complete save of the marker
        after a quiet spell, which has nothing to coalesce yet and syncs at once (bursts that
        follow, our own writes included, are debounced as usual)."""
        if self.first_event is None:
            self.first_event = now
            self.burst_after_quiet = now - self.last_activity >= debounce
        self.last_event = now
        self.last_activity = now
        if saved and self.burst_after_quiet and not busy():
            self.burst_after_quiet = False
            self.mark(now, kind)
        elif self.pending_at is None:
            self.cause = kind

    def clear(self) -> None:
        """Forget what is pending: a sync is starting and will read everything."""
        self.first_event = self.last_event = self.pending_at = self.retry_at = None

    def retry(self, now: float, base: float) -> float:
        """Count one more failure and schedule the retry; return its delay."""
        self.failures += 1
        delay = backoff_delay(self.failures, base)
        self.retry_at = now + delay
        self.cause = RETRY
        return delay
