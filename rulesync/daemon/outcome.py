"""One sync attempt for one project, and what its outcome does to the project: its status
record, its retry, and its log lines (news at info or warning, repeats at debug)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rulesync.config import Config
from rulesync.daemon.events import CHANGE_CAUSES
from rulesync.daemon.schedule import DEFERRED_BASE, FAILED_BASE, ProjectState, now_iso
from rulesync.errors import Deferred, RulesyncError
from rulesync.logs import Logger
from rulesync.marker import MARKER
from rulesync.project import Fetching

if TYPE_CHECKING:
    from rulesync.sync import SyncResult

# The lock wait inside a sync: short, so a CLI run holding the project only defers it (its own
# writes will wake us again) and SIGTERM is never stuck behind a lock.
LOCK_WAIT = 0.25
# An empty marker modified this recently (seconds) is taken as still being written.
SETTLE_WINDOW = 2.0
# The cause of a sync the fetcher asked for: the project's git-served library has a new revision.
FETCHED = "fetched"


class _Missing(Exception):
    """The project folder or its marker is gone (not a RulesyncError: nothing to exit with)."""


class _Overran(Exception):
    """A sync ran past its deadline (`sync_timeout`); it goes on alone, holding its lock."""


def _within(deadline: float, run: Callable[[], SyncResult], project: ProjectState) -> SyncResult:
    """`run()`'s result, waited for at most `deadline` seconds on a thread of its own, so the
    worker serves every other project even when one sync hangs. A sync that overruns keeps
    the project's lock until it ends: a retry meanwhile is deferred, never run beside it."""
    import contextvars
    import threading

    box: list[SyncResult | BaseException] = []
    context = contextvars.copy_context()  # the log's bound fields go along

    def body() -> None:
        try:
            box.append(run())
        except BaseException as exc:  # handed to the worker, which reports it
            box.append(exc)

    thread = threading.Thread(
        target=context.run, args=(body,), name=f"rulesync-sync {project.key}", daemon=True
    )
    thread.start()
    thread.join(deadline)
    if thread.is_alive() or not box:
        raise _Overran(
            f"{project.root}: the sync did not finish within {deadline:g} s and was given up "
            "(sync_timeout in the rulesync config); it is retried with backoff"
        )
    outcome = box[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def attempt(project: ProjectState, config: Config, cause: str, log: Logger) -> bool:
    """Sync `project` once (`cause` is why) and record the outcome; nothing it raises escapes,
    so one project's failure never stops the others. True when the sync ran to its end."""
    from rulesync.sync import sync

    started = time.perf_counter()
    log.debug("sync.started")
    marker = project.root / MARKER
    try:
        if not project.root.is_dir():
            raise _Missing(f"{project.root}: project folder is missing (deleted or moved?)")
        if not marker.is_file():
            raise _Missing(f"{project.root}: no {MARKER} here any more")
        # A sync the fetcher asked for moves the project to the revision it fetched (as
        # `apply --update` would); every other one serves the project's pinned revision.
        fetching = Fetching(update=True, fetched=True) if cause == FETCHED else None
        result = _within(
            config.sync_timeout,
            lambda: sync(
                project.root,
                config,
                lock_timeout=LOCK_WAIT,
                fetching=fetching,
                holder="the service",
            ),
            project,
        )
    except _Overran as exc:
        failed(project, str(exc), cause, log)
    except Deferred as exc:
        deferred(project, str(exc), log)
    except (RulesyncError, _Missing) as exc:
        if _unsettled(marker, cause):
            # Most likely read between an editor's truncate and its write: not settled yet,
            # and not a failure. The write's own event syncs what it leaves; a marker still
            # empty at the next reconcile is a failure like any other.
            log.debug("sync.unsettled", reason=f"{marker} is empty")
        else:
            failed(project, str(exc), cause, log)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        failed(project, f"{where}{exc.strerror or exc}", cause, log)
    except Exception as exc:
        log.exception("sync.crashed", error=repr(exc))
        failed(project, f"internal error: {exc!r}", cause, log, logged=True)
    else:
        synced(project, result, time.perf_counter() - started, log)
        return True
    return False


def measure_readiness(project: ProjectState, config: Config, log: Logger) -> None:
    """Measure the project's readiness again (git and files each time; Prometheus at most once
    its interval) and log a change of it."""
    from rulesync.report import readiness_summary

    try:
        now = readiness_summary(project.root, config)
    except (RulesyncError, OSError) as exc:
        log.debug("readiness.unmeasured", error=str(exc))
        return
    before = project.status.readiness
    if now != before:
        log.info("readiness.changed", before=before, readiness=now)
        project.status.readiness = now


def _unsettled(marker: Path, cause: str) -> bool:
    """An empty marker just changed (the change is this sync's cause, or happened moments ago):
    its writer has most likely not finished."""
    try:
        st = marker.stat()
    except OSError:
        return False
    recent = time.time() - st.st_mtime < SETTLE_WINDOW
    return st.st_size == 0 and (cause in CHANGE_CAUSES or recent)


def synced(project: ProjectState, result: SyncResult, seconds: float, log: Logger) -> None:
    """Record and log a sync that ran: what it applied, committed, and left in conflict."""
    counts = result.plan.counts()
    fields: dict[str, object] = {
        "phase": result.phase,
        "tier": result.tier,
        "added": counts["add"],
        "updated": counts["update"],
        "deleted": counts["delete"],
        "unchanged": counts["unchanged"],
        "conflicts": counts["conflict"],
        "commit": result.commit,
        "duration_ms": round(seconds * 1000, 1),
    }
    if result.commit_note:
        fields["commit_note"] = result.commit_note
    status = project.status
    conflicts = tuple(a.path for a in result.plan.conflicts)
    if conflicts:
        # A conflict stays until the user acts: warn when it appears or changes, not at every
        # reconcile.
        seen = conflicts == status.conflicts
        (log.debug if seen else log.warning)("sync.conflict", paths=list(conflicts), **fields)
    if result.applied or result.commit:
        # A sync that left a conflict did not reach the desired rules: not just news.
        (log.warning if conflicts else log.info)("sync.applied", **fields)
        if result.warnings:
            # A tool's size limit exceeded: said when the files change, not at every reconcile.
            log.warning("sync.target_limits", warnings=list(result.warnings))
    else:
        log.debug("sync.noop", **fields)
    if status.error is not None or status.deferred is not None:
        log.info("sync.recovered", after_failures=project.failures)
    project.failures = 0
    project.inputs = result.inputs
    status.last_sync = now_iso()
    status.phase, status.tier = result.phase, result.tier
    status.error = status.deferred = None
    status.conflicts = conflicts
    status.commit = result.commit or status.commit


def deferred(project: ProjectState, reason: str, log: Logger) -> None:
    """Record a sync the repository's state deferred (a rebase, a held lock); retry soon."""
    delay = project.retry(time.monotonic(), DEFERRED_BASE)
    level = log.debug if reason == project.status.deferred else log.info
    level("sync.deferred", reason=reason, retry_in=delay)
    project.status.deferred, project.status.error = reason, None


def failed(
    project: ProjectState, error: str, cause: str, log: Logger, *, logged: bool = False
) -> None:
    """Record a failed sync and schedule its retry with backoff."""
    delay = project.retry(time.monotonic(), FAILED_BASE)
    # A failure is news when it is new, or when a change to a watched file did not fix it;
    # a retry or a reconcile meeting the same error is not (the files are watched).
    news = error != project.status.error or cause in CHANGE_CAUSES
    if not logged:
        level = log.warning if news else log.debug
        level("sync.failed", error=error, attempt=project.failures, retry_in=delay)
    project.status.error, project.status.deferred = error, None
