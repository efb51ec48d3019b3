"""The worker: one thread that owns every project's state, the watches and the sync loop.

A work queue (watchdog's threads, the fetcher and the signal handler put typed messages on
it), a rate limiter (debounce and backoff, in `schedule`) and a reconcile function
(`outcome.attempt`, which calls `rulesync.sync.sync`: it re-reads everything, so a missed or
doubled event costs nothing). Every project is reconciled at start-up and on a timer.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from rulesync import __version__, private
from rulesync.config import Config, load_config
from rulesync.daemon.checks import (
    Folder,
    FolderChecks,
    Scan,
    Seen,
    file_stats,
    head_files,
    scan,
)
from rulesync.daemon.events import (
    REGISTRY_OWNER,
    Changed,
    Fatal,
    Fetched,
    Message,
    Reload,
    Stop,
    WatchKind,
    debounce_due,
)
from rulesync.daemon.fetcher import Fetcher
from rulesync.daemon.outcome import FETCHED, attempt, measure_readiness
from rulesync.daemon.schedule import (
    FULL_CYCLE,
    LIST_EVERY,
    REWATCH,
    STAMP_SLACK,
    ProjectState,
)
from rulesync.daemon.watch import Watcher, default_library, plan_watches
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK, RulesyncError
from rulesync.git import busy_reason, find_git
from rulesync.logs import Logger, configure, get_logger, log_path
from rulesync.registry import load_projects, registry_path
from rulesync.runtime import write_status

# A continuous storm of events still syncs at least this often (seconds).
MIN_MAX_DELAY = 1.0
# Readiness owed after the start-up pass is measured in slices of about this long (seconds),
# between which events are served.
MEASURE_SLICE = 0.02


class Reconciler:
    """The worker: owns every project's state, the watches, and the sync loop."""

    def __init__(
        self,
        config: Config,
        *,
        registry: Path | None = None,
        config_path: Path | None = None,
        log_level: str | None = None,
    ) -> None:
        self.config = config
        self.log_level = log_level
        self.registry = registry or registry_path()
        self.config_path = config_path
        self.log: Logger = get_logger()
        self.queue: queue.Queue[Message] = queue.Queue()
        self.watcher = Watcher(self.queue.put, self.log)
        self.fetcher = Fetcher(self.queue.put, self.log)
        self.checks = FolderChecks()
        self.projects: dict[str, ProjectState] = {}
        self.exit_code = EXIT_OK
        self.started = threading.Event()
        self.on_exit: Callable[[], None] | None = None
        self._stopping: str | None = None
        self._fatal: str | None = None
        self._next_reconcile = 0.0
        self._next_fetch = 0.0
        self._registry_event: tuple[float, float] | None = None
        self._reconciling: set[str] = set()
        self._reconcile_cause = "startup"
        self._reconcile_read = 0
        self._passes = 0  # timer passes so far
        # Projects whose readiness is owed since their start-up or registration sync,
        # measured once no sync is due.
        self._measure: deque[str] = deque()
        # Projects that may have a sync pending (a superset): the loop looks only at these,
        # so an idle project costs nothing per event. Projects whose library is git-served.
        self._active: set[str] = set()
        self._remote: set[str] = set()
        # Library folders as last listed, shared by every project following them; listed
        # again at each timer pass and after any change in a library.
        self._libraries: dict[str, Folder] = {}
        self._status_dirty = True

    # Requests from other threads ------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Ask the worker to finish the sync in progress and stop."""
        self.queue.put(Stop(reason))

    def request_reload(self) -> None:
        """Ask the worker to reload config and registry (SIGHUP)."""
        self.queue.put(Reload("signal"))

    def report_fatal(self, reason: str) -> None:
        """A thread the service depends on died: stop and exit non-zero."""
        self.queue.put(Fatal(reason))

    # Timing -----------------------------------------------------------------------------

    @property
    def debounce(self) -> float:
        return self.config.debounce_ms / 1000

    @property
    def max_delay(self) -> float:
        return max(MIN_MAX_DELAY, 10 * self.debounce)

    # The loop -----------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until asked to stop; return the process's exit code."""
        try:
            self._start()
            while self._stopping is None and self._fatal is None:
                self._wait()
                if self._stopping is not None or self._fatal is not None:
                    break
                now = time.monotonic()
                if now >= self._next_reconcile:
                    self._reconcile(now, "timer")
                if now >= self._next_fetch:
                    self._next_fetch = now + self.config.fetch_interval
                    self.fetcher.start(
                        (p.remote for p in self.projects.values() if p.remote),
                        self.config.mirror_of,
                        timeout=self.config.fetch_timeout,
                    )
                if now >= self.checks.next_at:
                    for key in self.checks.changed(now):
                        self._handle(Changed(key, WatchKind.LIBRARY))
                if self._registry_event is not None and now >= debounce_due(
                    *self._registry_event, self.debounce, self.max_delay
                ):
                    self._registry_event = None
                    self._reload("watch", with_config=False)
                self._sync_due()
                self._measure_some()
                self._flush_status()
        except Exception:
            self.log.exception("daemon.crashed")
            self._fatal = self._fatal or "the worker crashed"
        finally:
            self.watcher.stop(timeout=1.0)
            with contextlib.suppress(Exception):
                self._flush_status()
            if self._fatal is not None:
                self.exit_code = EXIT_NOT_IN_SYNC  # the supervisor restarts it
            self.log.info(
                "daemon.stopped",
                reason=self._fatal or self._stopping or "unknown",
                exit_code=self.exit_code,
            )
            if self.on_exit is not None:
                self.on_exit()
        return self.exit_code

    def _start(self) -> None:
        self.watcher.start()
        private.folder(self.registry.parent)
        self._watch_registry()
        now = time.monotonic()
        try:
            roots = load_projects(self.registry)
        except RulesyncError as exc:
            self.log.error("registry.invalid", error=str(exc))
            roots = []
        for root in roots:
            self.add(root, now, "startup")
        self._reconciling = set(self.projects)
        self._reconcile_cause = "startup"
        self._reconcile_read = len(self.projects)
        self._next_reconcile = now + self.config.reconcile_interval
        self.log.info(
            "daemon.started",
            pid=os.getpid(),
            version=__version__,
            projects=len(self.projects),
            registry=str(self.registry),
            log_file=str(log_path()),
            debounce_ms=self.config.debounce_ms,
            reconcile_interval=self.config.reconcile_interval,
        )
        self.started.set()
        if not self._reconciling:
            self.log.info("reconcile.done", cause="startup", projects=0, read=0)

    def _next_deadline(self) -> float:
        if self._measure:
            return time.monotonic()
        deadline = min(self._next_reconcile, self.checks.next_at)
        if self._remote:
            deadline = min(deadline, self._next_fetch)
        if self._registry_event is not None:
            deadline = min(
                deadline, debounce_due(*self._registry_event, self.debounce, self.max_delay)
            )
        for project in self._pending():
            due = project.due(self.debounce, self.max_delay)
            if due is not None and due < deadline:
                deadline = due
        return deadline

    def _pending(self) -> list[ProjectState]:
        """The projects with a sync pending; the others leave the active set."""
        found = []
        for key in list(self._active):
            project = self.projects.get(key)
            if project is None or project.due(self.debounce, self.max_delay) is None:
                self._active.discard(key)
            else:
                found.append(project)
        return found

    def _wait(self) -> None:
        timeout = self._next_deadline() - time.monotonic()
        if timeout > 0:
            try:
                item = self.queue.get(timeout=timeout)
            except queue.Empty:
                return
            self._handle(item)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return
            self._handle(item)

    def _handle(self, message: Message) -> None:
        now = time.monotonic()
        match message:
            case Stop(reason):
                self._stopping = self._stopping or reason
            case Fatal(reason):
                self.log.error("daemon.fatal", reason=reason)
                self._fatal = self._fatal or reason
            case Reload(trigger):
                self._reload(trigger, with_config=True)
                self._next_fetch = now
            case Fetched(spec):
                for using in self.projects.values():
                    if using.remote == spec:
                        using.mark(now, FETCHED)
                        self._active.add(using.key)
            case Changed(_, WatchKind.REGISTRY):
                first = self._registry_event[0] if self._registry_event else now
                self._registry_event = (first, now)
            case Changed(owner, kind, saved):
                if kind == WatchKind.LIBRARY:
                    self._libraries.clear()
                project = self.projects.get(owner)
                if project is not None:
                    busy = lambda: _busy(project.root)  # noqa: E731
                    project.on_event(now, kind, self.debounce, busy, saved=saved)
                    self._active.add(owner)

    def _sync_due(self) -> None:
        now = time.monotonic()
        due = []
        for project in self._pending():
            when = project.due(self.debounce, self.max_delay)
            if when is not None and when <= now:
                due.append((when, project.key))
        for _, key in sorted(due):
            target = self.projects.get(key)
            if target is None:
                continue  # removed from the registry meanwhile
            self.sync(target)
            self._drain()
            if self._stopping is not None or self._fatal is not None:
                return

    def _reconcile(self, now: float, cause: str) -> None:
        self._next_reconcile = now + self.config.reconcile_interval
        if not self.watcher.alive():
            self.log.error("observer.died", reason="a watchdog observer thread is not alive")
            self._fatal = "observer died"
            return
        self._watch_registry()
        if self._reconciling:
            return  # the pass before this one is still going: it reads them all
        read = self._to_read()
        for project in read:
            project.mark(now, cause)
            self._active.add(project.key)
        self._reconciling = {p.key for p in read}
        self._reconcile_cause = cause
        self._reconcile_read = len(read)
        if not read:
            self.log.info("reconcile.done", cause=cause, projects=len(self.projects), read=0)

    def _to_read(self) -> list[ProjectState]:
        """The projects a timer pass reads: those whose watched folders or HEAD changed since
        their last sync (or that cannot be told so), and, in turn, the least recently read of
        the rest, enough for each to be read at least once every FULL_CYCLE seconds."""
        changed: list[ProjectState] = []
        unchanged: list[ProjectState] = []
        self._libraries.clear()  # listed once for every project
        self._passes += 1
        for i, project in enumerate(self.projects.values()):
            listed = i % LIST_EVERY == self._passes % LIST_EVERY
            same = self._unchanged(project, self._libraries, listed=listed)
            (unchanged if same else changed).append(project)
        turn = math.ceil(len(self.projects) * self.config.reconcile_interval / FULL_CYCLE)
        unchanged.sort(key=lambda p: p.read_at)
        return changed + unchanged[:turn]

    def _unchanged(self, project: ProjectState, shared: dict[str, Folder], *, listed: bool) -> bool:
        """True when nothing the project's last sync read can have changed: it succeeded, its
        folders are watched through inotify, nothing is pending, its HEAD is as it was just
        after it, and so are its watched folders when `listed` (else their events vouch)."""
        if project.seen is None or project.due(self.debounce, self.max_delay) is not None:
            return False
        key = project.key
        if self.watcher.is_polled(key) or key in self.watcher.unwatched:
            return False
        seen = project.seen
        if file_stats(seen.head_files) != seen.head_stats:
            return False  # HEAD moved (or was rewritten)
        return not listed or scan(self.watcher.owned(key), shared).entries == seen.entries

    def _measure_some(self) -> None:
        """Measure the readiness owed, a slice at a time, while no sync is due."""
        end = time.monotonic() + MEASURE_SLICE
        while self._measure and time.monotonic() < end:
            project = self.projects.get(self._measure.popleft())
            if project is None:
                continue  # removed from the registry meanwhile
            if project.due(self.debounce, self.max_delay) is not None:
                self._measure.append(project.key)  # its sync comes first
                return
            log = self.log.bind(project=project.key, cause=project.cause)
            measure_readiness(project, self.config, log)
            self._status_dirty = True

    # One project ------------------------------------------------------------------------

    def add(self, root: Path, now: float, cause: str) -> ProjectState:
        """Serve the project at `root`: watch it and sync it as soon as possible."""
        project = ProjectState(root=root)
        self.projects[project.key] = project
        project.mark(now, cause)
        self._active.add(project.key)
        self._watch_project(project)
        return project

    def sync(self, project: ProjectState) -> None:
        """Reconcile one project now: sync it, record and log the outcome, rewatch it."""
        cause = project.cause
        project.clear()
        started = time.time_ns()
        log = self.log.bind(project=project.key, cause=cause)
        synced = False
        try:
            synced = attempt(project, self.config, cause, log)
        finally:
            self._status_dirty = True
            self._active.add(project.key)  # a retry, or a look once more
            if project.remote:
                self._remote.add(project.key)
            else:
                self._remote.discard(project.key)
            project.last_activity = project.read_at = time.monotonic()
            try:
                self._watch_project(project, synced_at=started if synced else None)
            except Exception:
                # A bug here must not stop every other project: the next sync tries again.
                project.seen = None
                self.log.exception("watch.crashed", project=project.key, cause=cause)
            # A project is reconciled once a sync of it leaves no look pending for folders it
            # watched anew: "reconcile.done" means every project is synced and fully watched.
            looking_again = project.cause == REWATCH and project.pending_at is not None
            if project.key in self._reconciling and not looking_again:
                self._reconciling.discard(project.key)
                if not self._reconciling:
                    self.log.info(
                        "reconcile.done",
                        cause=self._reconcile_cause,
                        projects=len(self.projects),
                        read=self._reconcile_read,
                    )
        if synced and cause == "timer":
            measure_readiness(project, self.config, log)
        elif synced and cause in ("startup", "registry"):
            # Measured once the pass is over: a pass over many projects ends sooner.
            self._measure.append(project.key)

    def _watch_project(self, project: ProjectState, synced_at: int | None = None) -> None:
        """Watch what the project's last load read; `synced_at` (wall-clock ns) is when the
        successful sync that read it started."""
        git = find_git(project.root)
        git_dir = git.git_dir if git is not None and project.status.deferred is not None else None
        plan = plan_watches(project.root, project.inputs, default_library(self.config), git_dir)
        fresh = self.watcher.subscribe(project.key, plan.watched)
        self.checks.set(project.key, plan.checked, time.monotonic())
        looked = None
        project.seen = None
        if synced_at is not None:
            for path in fresh:
                self._libraries.pop(path, None)  # a folder watched anew is listed anew
            looked = scan(self.watcher.owned(project.key), self._libraries)
            files = head_files(git) if git is not None else None
            stats = file_stats(files) if files is not None else ()
            # HEAD unreadable without git, or moved since the sync began (its own commit,
            # or another beside it, which nothing watches): the next pass reads it again.
            settled = synced_at - int(STAMP_SLACK * 1e9)
            if files is not None and all(s is None or s[-1] < settled for s in stats):
                project.seen = Seen(files, stats, looked.entries)
        idle = project.due(self.debounce, self.max_delay) is None
        unseen = [path for path in fresh if plan.watched[path] != WatchKind.GIT]
        if idle and unseen and _changed_since(looked, unseen, synced_at):
            # A folder watched anew (one this sync created, or one replaced): a change made
            # in it between the sync's start and its watch went unseen, so look once more (a
            # no-op sync, which watches nothing new, when nothing changed). A sync already
            # due (a retry after a failure keeps its backoff) will look anyway.
            project.mark(time.monotonic(), REWATCH)
        polled = self.watcher.is_polled(project.key)
        if project.status.polling != polled:
            project.status.polling = polled
            self._status_dirty = True

    # Registry and config ------------------------------------------------------------------

    def _watch_registry(self) -> None:
        folder = os.path.realpath(self.registry.parent)
        wanted = {folder: WatchKind.REGISTRY} if os.path.isdir(folder) else {}
        self.watcher.subscribe(REGISTRY_OWNER, wanted)

    def _reload(self, trigger: str, *, with_config: bool) -> None:
        now = time.monotonic()
        if with_config:
            try:
                config = load_config(self.config_path)
            except RulesyncError as exc:
                self.log.error("config.invalid", error=str(exc), kept="the previous config")
            else:
                if config != self.config:
                    self.config = config
                    level = self.log_level or config.log_level
                    configure(level, log_file=log_path(), console=True)
                    for project in self.projects.values():
                        project.mark(now, "config")
                        self._active.add(project.key)
                self.log.info("config.reloaded", trigger=trigger)
        try:
            roots = load_projects(self.registry)
        except RulesyncError as exc:
            self.log.error("registry.invalid", error=str(exc), kept="the previous registry")
            return
        wanted = {str(r): r for r in roots}
        removed = [key for key in self.projects if key not in wanted]
        added = [root for key, root in wanted.items() if key not in self.projects]
        for key in removed:
            del self.projects[key]
            self._remote.discard(key)
            self.watcher.forget(key)
            self.checks.set(key, (), now)
            self._reconciling.discard(key)
        for root in added:
            self.add(root, now, "registry")
        self._watch_registry()
        self._status_dirty = self._status_dirty or bool(added or removed)
        self.log.info(
            "registry.reloaded",
            trigger=trigger,
            added=[str(r) for r in added],
            removed=removed,
            projects=len(self.projects),
        )

    def _flush_status(self) -> None:
        if not self._status_dirty:
            return
        self._status_dirty = False
        write_status({key: p.status for key, p in self.projects.items()})


def _changed_since(looked: Scan | None, folders: list[str], since: int | None) -> bool:
    """Whether any of `folders` may have changed since `since` (wall-clock ns): a change time
    that recent (less the filesystem's coarse clock) on the folder or an entry that matters, or
    no scan to tell."""
    if looked is None or since is None:
        return True
    slack = int(STAMP_SLACK * 1e9)
    return any(
        looked.newest.get(path, -1) < 0 or looked.newest[path] >= since - slack for path in folders
    )


def _busy(root: Path) -> bool:
    git = find_git(root)
    return git is not None and busy_reason(git) is not None
