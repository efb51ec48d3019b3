"""What a sync's outcome does to a project: its status record, its retry, and its log lines
(news at info or warning, repeats at debug)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rulesync.daemon.events import CHANGE_CAUSES
from rulesync.daemon.schedule import DEFERRED_BASE, FAILED_BASE, ProjectState, now_iso
from rulesync.logs import Logger

if TYPE_CHECKING:
    from rulesync.sync import SyncResult


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
