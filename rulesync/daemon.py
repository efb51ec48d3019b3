"""The service (`rulesync daemon`): watch every registered project, keep its rules synced.

Level-triggered, like a Kubernetes controller. A file event only says "look at this project
again": watchdog's threads put the project's key on a queue and do nothing else. One worker
thread owns all state: it debounces (a complete save of the marker after a quiet spell syncs
at once; what follows within the debounce is coalesced), calls `rulesync.sync.sync` (which
re-reads everything), retries failing projects with backoff, reloads the registry, and
reconciles every project at start-up and on a timer. The main thread only turns signals into
requests for the worker.

What is watched, never recursively: each project's root (for `.rulesync.yaml` and the
targets' files there, AGENTS.md), each enabled target's folders (`Target.folders`), its git
dir while a sync is deferred, each library folder in use (shared by the projects using it),
and the registry's folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import queue
import select
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirDeletedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, EventEmitter, ObservedWatch

from rulesync import __version__
from rulesync.config import Config, load_config, state_dir
from rulesync.errors import AlreadyRunning, Deferred, RulesyncError
from rulesync.fsutil import TMP_MARK, atomic_write
from rulesync.git import BUSY_FILES, busy_reason, find_git
from rulesync.library import TIERS_FILE, bundled_root
from rulesync.logs import configure, get_logger, log_path
from rulesync.marker import MARKER, load_marker
from rulesync.project import choose_library, target_folders
from rulesync.registry import REGISTRY, load_projects, registry_path
from rulesync.remote import is_url
from rulesync.runtime import pid_path, write_status
from rulesync.targets import ROOT_FILES

# The lock wait inside a sync: short, so a CLI run holding the project only defers it (its own
# writes will wake us again) and SIGTERM is never stuck behind a lock.
LOCK_WAIT = 0.25
# Backoff for a project that keeps failing: first retry after BASE seconds, doubling, capped.
DEFERRED_BASE = 0.25
FAILED_BASE = 1.0
BACKOFF_CAP = 60.0
# A continuous storm of events still syncs at least this often (seconds).
MIN_MAX_DELAY = 1.0
# SIGTERM / SIGINT: the sync in progress gets this long, so the process is gone within 5 s.
STOP_GRACE = 4.0
EXIT_FATAL = 1
LOCK_FILE = "daemon.lock"

# inotify reports watch exhaustion as ENOSPC and instance exhaustion as EMFILE.
EXHAUSTED = (errno.ENOSPC, errno.EMFILE)
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "davfs",
        "fuse.sshfs",
        "fuse.rclone",
        "fuse.davfs2",
        "fuse.glusterfs",
        "fuse.ceph",
        "fuse.s3fs",
        "fuse.gcsfuse",
    }
)
# Only the kinds of event that follow a write: opens and reads (ours included) never wake us.
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    FileClosedEvent,
    DirDeletedEvent,
]

MARKER_WATCH = "marker"
MARKER_SAVED = "saved"
RULES_WATCH = "rules"
GIT_WATCH = "git"
LIBRARY_WATCH = "library"
REGISTRY_WATCH = "registry"
REGISTRY_OWNER = "<registry>"


# ---------------------------------------------------------------------------------------------
# Pure decisions


def debounce_due(first: float, last: float, debounce: float, max_delay: float) -> float:
    """When a burst of events that began at `first` and last saw one at `last` is synced:
    after `debounce` seconds of quiet, but never later than `max_delay` after it began."""
    return min(last + debounce, first + max_delay)


def backoff_delay(failures: int, base: float, cap: float = BACKOFF_CAP) -> float:
    """Seconds before retry number `failures` (1 = first retry): doubling from `base`, capped."""
    return float(min(cap, base * (2 ** max(0, failures - 1))))


def is_relevant(kind: str, names: Iterable[str], *, is_self: bool) -> bool:
    """Whether an event touching `names` (base names) in a watched folder of `kind` matters.

    `is_self` is the watched folder itself going away, which always matters.
    """
    if is_self:
        return True
    names = set(names)
    if kind == MARKER_WATCH:
        # The root also holds targets' files (AGENTS.md): drift there is looked at too.
        return MARKER in names or not names.isdisjoint(ROOT_FILES)
    if kind == RULES_WATCH:
        # Our own temporary files come and go during a write; the rename that follows counts.
        return any(not n.startswith(TMP_MARK) for n in names)
    if kind == LIBRARY_WATCH:
        return any(n.endswith(".mdc") or n == TIERS_FILE for n in names)
    if kind == GIT_WATCH:
        return bool(names & set(BUSY_FILES))
    if kind == REGISTRY_WATCH:
        return REGISTRY in names
    return False


def saves_marker(event_type: str, src_name: str, dest_name: str) -> bool:
    """Whether an event leaves a complete marker in place: its writer closed it, or a finished
    file was renamed onto it (vim, sed -i, editors' safe write). A create or a modify may still
    be followed by more writes."""
    if event_type == "closed":
        return src_name == MARKER
    return event_type == "moved" and dest_name == MARKER


def _unescape_mount(field_text: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field_text = field_text.replace(code, char)
    return field_text


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    """(mount point, filesystem type) for each line of /proc/self/mountinfo."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if "-" not in parts:
            continue
        sep = parts.index("-")
        if sep < 5 or sep + 1 >= len(parts):
            continue
        mounts.append((_unescape_mount(parts[4]), parts[sep + 1]))
    return mounts


def filesystem_type(path: str, mounts: Iterable[tuple[str, str]]) -> str:
    """The type of the filesystem holding `path` (an absolute, resolved path): the mount with
    the longest mount point above it; the last such mount wins, as it hides earlier ones."""
    best, best_len = "", -1
    for point, fstype in mounts:
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best_len:
            best, best_len = fstype, len(point)
    return best


def needs_polling(fstype: str) -> bool:
    """True for network filesystems, where inotify never hears about other machines' writes."""
    return fstype in NETWORK_FILESYSTEMS or fstype.startswith(("nfs", "fuse.sshfs"))


def mount_table() -> list[tuple[str, str]]:
    """The current mounts (empty where /proc/self/mountinfo does not exist, e.g. macOS)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            return parse_mountinfo(handle.read())
    except OSError:
        return []


# ---------------------------------------------------------------------------------------------
# Watching


Post = Callable[[tuple[str, str]], None]


class _Handler(FileSystemEventHandler):
    """Turns watchdog events for one folder into queue items for its subscribers; never raises."""

    def __init__(self, path: str, post: Post) -> None:
        super().__init__()
        self.path = path
        self.post = post
        # Replaced whole (never mutated) by the worker, so the observer thread reads it safely.
        self.subscribers: frozenset[tuple[str, str]] = frozenset()

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            src = os.fsdecode(event.src_path)
            dest = os.fsdecode(event.dest_path) if event.dest_path else ""
            names = {os.path.basename(p) for p in (src, dest) if p}
            is_self = src == self.path and event.is_directory
            for kind, owner in self.subscribers:
                if not is_relevant(kind, names, is_self=is_self):
                    continue
                saved = kind == MARKER_WATCH and saves_marker(
                    event.event_type, os.path.basename(src), os.path.basename(dest)
                )
                self.post((MARKER_SAVED if saved else kind, owner))
        except Exception:
            # An event handler must never take watchdog's thread down; the reconcile timer
            # heals anything a lost event would have caught.
            pass


@dataclass
class _Watch:
    path: str
    identity: tuple[int, int]
    observer: BaseObserver
    observed: ObservedWatch
    emitter: EventEmitter | None
    handler: _Handler
    subscribers: dict[str, str] = field(default_factory=dict)  # owner → kind

    def stale(self) -> bool:
        """True once the folder was replaced: its emitter stopped when the old one was deleted
        (the inode number alone is not enough: ext4 hands a freed one straight out again)."""
        dead = self.emitter is not None and not self.emitter.is_alive()
        return dead or self.identity != _identity(self.path)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class Watcher:
    """One inotify observer for everything, and a polling observer, created only when needed,
    for owners whose watches ran out or whose folders sit on a network filesystem.

    Owners (a project's key, or the registry) subscribe to folders; a folder several owners
    want (a library) has one watch.
    """

    def __init__(self, post: Post, log: Any) -> None:
        self._post = post
        self._log = log
        self._watches: dict[str, _Watch] = {}
        self._owned: dict[str, dict[str, str]] = {}
        self.inotify: BaseObserver | None = None
        self.polling: BaseObserver | None = None
        self.polled: dict[str, str] = {}  # owner → why it is polled (logged once)
        self.unwatched: set[str] = set()  # owners a watch was refused to (logged once)

    def start(self) -> None:
        """Start the inotify observer (or, when inotify itself is exhausted, only polling)."""
        from watchdog.observers import Observer

        try:
            observer = Observer()
            observer.start()
            self.inotify = observer
        except OSError as exc:
            if exc.errno not in EXHAUSTED:
                raise
            self._log.warning(
                "watch.polling", scope="all", reason=f"inotify unavailable: {exc.strerror}"
            )
            self.polled["*"] = str(exc.strerror)

    def _polling_observer(self) -> BaseObserver:
        if self.polling is None:
            from watchdog.observers.polling import PollingObserver

            self.polling = PollingObserver(timeout=1.0)
            self.polling.start()
        return self.polling

    def alive(self) -> bool:
        """False when an observer thread that should be running has died."""
        return all(o.is_alive() for o in (self.inotify, self.polling) if o is not None)

    def stop(self, timeout: float) -> None:
        """Stop the observers, waiting at most `timeout` seconds in all."""
        deadline = time.monotonic() + timeout
        observers = [o for o in (self.inotify, self.polling) if o is not None]
        for observer in observers:
            with contextlib.suppress(Exception):
                observer.stop()
        for observer in observers:
            with contextlib.suppress(RuntimeError):
                observer.join(max(0.0, deadline - time.monotonic()))

    def watch_count(self) -> int:
        """Folders watched right now (each is one inotify watch or one polled folder)."""
        return len(self._watches)

    def subscribe(self, owner: str, wanted: Mapping[str, str]) -> list[str]:
        """Make `owner`'s subscriptions exactly `wanted` (resolved folder → kind); return the
        folders watched anew, whose changes before now no watch has seen.

        A folder replaced since it was watched (deleted and created again) is watched anew.
        """
        fresh: list[str] = []
        old = self._owned.get(owner, {})
        for path in set(old) - set(wanted):
            self._unsubscribe(owner, path)
        for path, kind in wanted.items():
            current = self._watches.get(path)
            others: dict[str, str] = {}
            if current is not None and current.stale():
                # The folder was deleted and created again: the old watch hears nothing.
                others = {o: k for o, k in current.subscribers.items() if o != owner}
                self._drop(current)
                current = None
            if current is None:
                current = self._schedule(owner, path)
                if current is None:
                    continue
                fresh.append(path)
            current.subscribers.update(others)
            current.subscribers[owner] = kind
            current.handler.subscribers = frozenset((k, o) for o, k in current.subscribers.items())
            for subscriber, subscribed_kind in current.subscribers.items():
                self._owned.setdefault(subscriber, {})[path] = subscribed_kind
        if not self._owned.get(owner):
            self._owned.pop(owner, None)
        return fresh

    def forget(self, owner: str) -> None:
        """Drop every subscription of `owner` (a project removed from the registry)."""
        self.subscribe(owner, {})
        self.polled.pop(owner, None)
        self.unwatched.discard(owner)

    def _unsubscribe(self, owner: str, path: str) -> None:
        self._owned.get(owner, {}).pop(path, None)
        current = self._watches.get(path)
        if current is None:
            return
        current.subscribers.pop(owner, None)
        current.handler.subscribers = frozenset((k, o) for o, k in current.subscribers.items())
        if not current.subscribers:
            self._drop(current)

    def _drop(self, current: _Watch) -> None:
        self._watches.pop(current.path, None)
        for owner in current.subscribers:
            self._owned.get(owner, {}).pop(current.path, None)
        with contextlib.suppress(KeyError, OSError, RuntimeError):
            current.observer.unschedule(current.observed)

    def _schedule(self, owner: str, path: str) -> _Watch | None:
        identity = _identity(path)
        if identity is None:
            return None
        handler = _Handler(path, self._post)
        why = self.polled.get(owner) or self.polled.get("*")
        if why is None:
            fstype = filesystem_type(path, mount_table())
            if needs_polling(fstype):
                why = f"network filesystem ({fstype})"
                self._fall_back(owner, why)
        observer: BaseObserver | None = None
        try:
            if why is None and self.inotify is not None:
                try:
                    observed = self.inotify.schedule(
                        handler, path, recursive=False, event_filter=EVENT_FILTER
                    )
                    observer = self.inotify
                except OSError as exc:
                    if exc.errno not in EXHAUSTED:
                        # The folder vanished between stat and schedule: the next sync retries.
                        return None
                    reason = f"inotify limit reached ({errno.errorcode[exc.errno]})"
                    self._fall_back(owner, reason)
            if observer is None:
                observed = self._polling_observer().schedule(
                    handler, path, recursive=False, event_filter=EVENT_FILTER
                )
                observer = self._polling_observer()
        except OSError:
            return None
        except RuntimeError as exc:
            # watchdog runs a thread per watched folder; a task limit (systemd TasksMax)
            # refuses more. Unwatched, the project is still synced by the reconcile timer.
            if owner not in self.unwatched:
                self.unwatched.add(owner)
                self._log.error("watch.failed", project=owner, reason=str(exc))
            return None
        emitter = next((e for e in observer.emitters if e.watch == observed), None)
        watch = _Watch(path, identity, observer, observed, emitter, handler)
        self._watches[path] = watch
        return watch

    def _fall_back(self, owner: str, why: str) -> None:
        if owner not in self.polled:
            self.polled[owner] = why
            self._log.warning("watch.polling", project=owner, reason=why)


# ---------------------------------------------------------------------------------------------
# The worker


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class ProjectState:
    """What the worker knows about one registered project: pending events, retries, status."""

    root: Path
    first_event: float | None = None
    last_event: float | None = None
    pending_at: float | None = None
    retry_at: float | None = None
    cause: str = "startup"
    last_activity: float = float("-inf")
    burst_after_quiet: bool = False
    failures: int = 0
    deferred: str | None = None
    problem: str | None = None
    remote: str | None = None  # the library setting, when it is a git repository
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return str(self.root)

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

    def on_event(self, now: float, kind: str, debounce: float, busy: Callable[[], bool]) -> None:
        """A watched file changed: debounce it, unless it is a complete save after a quiet
        spell, which has nothing to coalesce yet and syncs at once (bursts that follow, our
        own writes included, are debounced as usual)."""
        if self.first_event is None:
            self.first_event = now
            self.burst_after_quiet = now - self.last_activity >= debounce
        self.last_event = now
        self.last_activity = now
        if kind == MARKER_SAVED and self.burst_after_quiet and not busy():
            self.burst_after_quiet = False
            self.mark(now, MARKER_SAVED)
        elif self.pending_at is None:
            self.cause = MARKER_WATCH if kind == MARKER_SAVED else kind

    def clear(self) -> None:
        """Forget what is pending: a sync is starting and will read everything."""
        self.first_event = self.last_event = self.pending_at = self.retry_at = None


class Service:
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
        self.log = get_logger()
        self.queue: queue.Queue[tuple[str, str]] = queue.Queue()
        self.watcher = Watcher(self.queue.put, self.log)
        self.projects: dict[str, ProjectState] = {}
        self.exit_code = 0
        self.started = threading.Event()
        self.on_exit: Callable[[], None] | None = None
        self._stopping: str | None = None
        self._fatal: str | None = None
        self._next_reconcile = 0.0
        self._next_fetch = 0.0
        self._fetcher: threading.Thread | None = None
        self._registry_event: tuple[float, float] | None = None
        self._reconciling: set[str] = set()
        self._reconcile_cause = "startup"
        self._status_dirty = True

    # Requests from other threads ------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Ask the worker to finish the sync in progress and stop."""
        self.queue.put(("stop", reason))

    def request_reload(self) -> None:
        """Ask the worker to reload config and registry (SIGHUP)."""
        self.queue.put(("reload", "signal"))

    def report_fatal(self, reason: str) -> None:
        """A thread the service depends on died: stop and exit non-zero."""
        self.queue.put(("fatal", reason))

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
                    self._fetch_libraries(now)
                if self._registry_event is not None and now >= debounce_due(
                    *self._registry_event, self.debounce, self.max_delay
                ):
                    self._registry_event = None
                    self._reload("watch", with_config=False)
                self._sync_due()
                self._flush_status()
        except Exception:
            self.log.exception("daemon.crashed")
            self._fatal = self._fatal or "the worker crashed"
        finally:
            self.watcher.stop(timeout=1.0)
            with contextlib.suppress(Exception):
                self._flush_status()
            if self._fatal is not None:
                self.exit_code = EXIT_FATAL
            self.log.info(
                "daemon.stopped",
                reason=self._fatal or self._stopping or "unknown",
                exit_code=self.exit_code,
            )
            if self.on_exit is not None:
                self.on_exit()
        return self.exit_code

    def _start(self) -> None:
        import git  # noqa: F401  (GitPython's import is slow; pay it before the first edit)

        self.watcher.start()
        self.registry.parent.mkdir(parents=True, exist_ok=True)
        self._watch_registry()
        now = time.monotonic()
        try:
            roots = load_projects(self.registry)
        except RulesyncError as exc:
            self.log.error("registry.invalid", error=str(exc))
            roots = []
        for root in roots:
            self._add(root, now, "startup")
        self._reconciling = set(self.projects)
        self._reconcile_cause = "startup"
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
            self.log.info("reconcile.done", cause="startup", projects=0)

    def _next_deadline(self) -> float:
        deadline = self._next_reconcile
        if any(p.remote for p in self.projects.values()):
            deadline = min(deadline, self._next_fetch)
        if self._registry_event is not None:
            deadline = min(
                deadline, debounce_due(*self._registry_event, self.debounce, self.max_delay)
            )
        for project in self.projects.values():
            due = project.due(self.debounce, self.max_delay)
            if due is not None and due < deadline:
                deadline = due
        return deadline

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

    def _handle(self, item: tuple[str, str]) -> None:
        kind, owner = item
        now = time.monotonic()
        if kind == "stop":
            self._stopping = self._stopping or owner
        elif kind == "fatal":
            self.log.error("daemon.fatal", reason=owner)
            self._fatal = self._fatal or owner
        elif kind == "reload":
            self._reload(owner, with_config=True)
            self._next_fetch = now
        elif kind == "fetched":
            for using in self.projects.values():
                if using.remote == owner:
                    using.mark(now, "library")
        elif kind == REGISTRY_WATCH:
            first = self._registry_event[0] if self._registry_event else now
            self._registry_event = (first, now)
        else:
            project = self.projects.get(owner)
            if project is not None:
                project.on_event(now, kind, self.debounce, lambda: _busy(project.root))

    def _sync_due(self) -> None:
        now = time.monotonic()
        due = []
        for project in self.projects.values():
            when = project.due(self.debounce, self.max_delay)
            if when is not None and when <= now:
                due.append((when, project.key))
        for _, key in sorted(due):
            target = self.projects.get(key)
            if target is None:
                continue  # removed from the registry meanwhile
            self._sync(target)
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
        for project in self.projects.values():
            project.mark(now, cause)
        self._reconciling = set(self.projects)
        self._reconcile_cause = cause

    # One project ------------------------------------------------------------------------

    def _add(self, root: Path, now: float, cause: str) -> None:
        project = ProjectState(root=root)
        self.projects[project.key] = project
        project.mark(now, cause)
        self._watch_project(project)

    def _sync(self, project: ProjectState) -> None:
        from rulesync.sync import sync

        cause = project.cause
        project.clear()
        log = self.log.bind(project=project.key, cause=cause)
        started = time.perf_counter()
        log.debug("sync.started")
        try:
            if not project.root.is_dir():
                raise _Missing(f"{project.root}: project folder is missing (deleted or moved?)")
            if not (project.root / MARKER).is_file():
                raise _Missing(f"{project.root}: no {MARKER} here any more")
            result = sync(project.root, self.config, lock_timeout=LOCK_WAIT)
        except Deferred as exc:
            self._deferred(project, str(exc), log)
        except (RulesyncError, _Missing) as exc:
            self._failed(project, str(exc), log)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            self._failed(project, f"{where}{exc.strerror or exc}", log)
        except Exception as exc:
            log.exception("sync.crashed", error=repr(exc))
            self._failed(project, f"internal error: {exc!r}", log, logged=True)
        else:
            counts = result.plan.counts()
            fields: dict[str, Any] = {
                "phase": result.phase,
                "tier": result.tier,
                "added": counts["add"],
                "updated": counts["update"],
                "deleted": counts["delete"],
                "unchanged": counts["unchanged"],
                "conflicts": counts["conflict"],
                "commit": result.commit,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if result.commit_note:
                fields["commit_note"] = result.commit_note
            conflicts = [a.path for a in result.plan.conflicts]
            if conflicts:
                # A conflict stays until the user acts: warn when it appears or changes, not
                # at every reconcile.
                seen = conflicts == project.record.get("conflicts")
                (log.debug if seen else log.warning)("sync.conflict", paths=conflicts, **fields)
            if result.applied or result.commit:
                log.info("sync.applied", **fields)
            else:
                log.debug("sync.noop", **fields)
            if project.problem is not None or project.deferred is not None:
                log.info("sync.recovered", after_failures=project.failures)
            project.failures = 0
            project.problem = None
            project.deferred = None
            project.record.update(
                last_sync=_now_iso(),
                phase=result.phase,
                tier=result.tier,
                error=None,
                deferred=None,
                conflicts=conflicts,
            )
            if result.commit:
                project.record["commit"] = result.commit
            self._status_dirty = True
        project.last_activity = time.monotonic()
        try:
            self._watch_project(project)
        except Exception:
            # A bug here must not stop every other project: the next sync tries again.
            log.exception("watch.crashed")
        if project.key in self._reconciling:
            self._reconciling.discard(project.key)
            if not self._reconciling:
                self.log.info(
                    "reconcile.done", cause=self._reconcile_cause, projects=len(self.projects)
                )

    def _deferred(self, project: ProjectState, reason: str, log: Any) -> None:
        project.failures += 1
        delay = backoff_delay(project.failures, DEFERRED_BASE)
        project.retry_at = time.monotonic() + delay
        if reason != project.deferred:
            log.info("sync.deferred", reason=reason, retry_in=delay)
        else:
            log.debug("sync.deferred", reason=reason, retry_in=delay)
        project.deferred = reason
        project.problem = None
        project.record.update(deferred=reason, error=None)
        self._status_dirty = True

    def _failed(self, project: ProjectState, error: str, log: Any, *, logged: bool = False) -> None:
        project.failures += 1
        delay = backoff_delay(project.failures, FAILED_BASE)
        project.retry_at = time.monotonic() + delay
        if not logged:
            log.warning("sync.failed", error=error, attempt=project.failures, retry_in=delay)
        project.problem = error
        project.deferred = None
        project.record.update(error=error, deferred=None)
        self._status_dirty = True

    def _watch_project(self, project: ProjectState) -> None:
        root = os.path.realpath(project.root)
        wanted: dict[str, str] = {}
        if os.path.isdir(root):
            for folder in self._library_folders(project):
                wanted[os.path.realpath(folder)] = LIBRARY_WATCH
            for folder in target_folders(Path(root), self._targets(project)):
                wanted[str(folder)] = RULES_WATCH
            if project.deferred is not None:
                git = find_git(Path(root))
                if git is not None and git.git_dir.is_dir():
                    wanted[os.path.realpath(git.git_dir)] = GIT_WATCH
            wanted[root] = MARKER_WATCH
        fresh = self.watcher.subscribe(project.key, wanted)
        idle = project.due(self.debounce, self.max_delay) is None
        if idle and any(wanted[path] != GIT_WATCH for path in fresh):
            # A folder watched anew (one this sync created, or one replaced): a change made
            # in it before its watch existed went unseen, so look once more (a no-op sync,
            # which watches nothing new, when nothing changed). A sync already due (a retry
            # after a failure keeps its backoff) will look anyway.
            project.mark(time.monotonic(), "rewatch")
        polled = project.key in self.watcher.polled or "*" in self.watcher.polled
        if project.record.get("polling") != polled:
            project.record["polling"] = polled
            self._status_dirty = True

    def _targets(self, project: ProjectState) -> tuple[str, ...]:
        try:
            return load_marker(project.root).targets or self.config.targets
        except (RulesyncError, OSError):
            return self.config.targets  # the root watch sees the marker being fixed

    def _library_folders(self, project: ProjectState) -> list[Path]:
        try:
            marker = load_marker(project.root)
        except (RulesyncError, OSError):
            return []  # the root watch sees the marker being fixed
        spec = marker.library or self.config.library
        project.remote = spec if is_url(spec) else None
        if project.remote is not None:
            # A library served from git changes when a fetch moves its served revision
            # (`_fetch_libraries`), not in a folder worth watching.
            return []
        try:
            library = choose_library(marker, self.config)
        except (RulesyncError, OSError):
            # A broken library is fixed inside its folder: keep watching the one the user
            # configured (never a folder a marker names, which may not be trusted).
            if marker.library is not None:
                return []
            if self.config.library == "default":
                return [bundled_root()]
            return [Path(self.config.library)] if Path(self.config.library).is_dir() else []
        folders = [library.root]
        folders += [library.tier_dir(t.name) for t in library.tiers]
        return [f for f in folders if f.is_dir()]

    # Libraries served from git ------------------------------------------------------------

    def _fetch_libraries(self, now: float) -> None:
        self._next_fetch = now + self.config.fetch_interval
        specs = sorted({p.remote for p in self.projects.values() if p.remote})
        if not specs or (self._fetcher is not None and self._fetcher.is_alive()):
            return
        # Fetching waits on the network: on a thread of its own, so syncs and SIGTERM never
        # wait for it. It reports a moved revision through the queue like any event.
        self._fetcher = threading.Thread(
            target=self._fetch, args=(specs,), name="rulesync-fetch", daemon=True
        )
        self._fetcher.start()

    def _fetch(self, specs: list[str]) -> None:
        from rulesync.remote import Cache, Rewritten, library_folder, parse_spec

        for spec in specs:
            log = self.log.bind(library=spec)
            try:
                remote = parse_spec(spec)
                before = Cache(remote).served()
                if before is None:
                    continue  # never served yet: the first sync fetches it
                _, revision = library_folder(remote, update=True)
            except Rewritten as exc:
                log.error("library.rewritten", error=str(exc))
            except RulesyncError as exc:
                log.warning("library.fetch_failed", error=str(exc))
            except Exception:
                log.exception("library.fetch_crashed")
            else:
                if revision != before:
                    log.info("library.fetched", revision=revision, previous=before)
                    self.queue.put(("fetched", spec))
                else:
                    log.debug("library.fetched", revision=revision, previous=before)

    # Registry and config ------------------------------------------------------------------

    def _watch_registry(self) -> None:
        folder = os.path.realpath(self.registry.parent)
        wanted = {folder: REGISTRY_WATCH} if os.path.isdir(folder) else {}
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
            self.watcher.forget(key)
            self._reconciling.discard(key)
        for root in added:
            self._add(root, now, "registry")
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
        write_status({key: dict(p.record) for key, p in self.projects.items()})


def _busy(root: Path) -> bool:
    git = find_git(root)
    return git is not None and busy_reason(git) is not None


class _Missing(Exception):
    """The project folder or its marker is gone (not a RulesyncError: nothing to exit with)."""


# ---------------------------------------------------------------------------------------------
# The process: one instance, signals, the main thread


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def single_instance() -> Iterator[None]:
    """Hold the service lock and the pid file, or raise AlreadyRunning naming the holder."""
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        pid = None
        for _ in range(20):  # the holder writes its pid just after it takes the lock
            pid = _read_pid(pid_path())
            if pid is not None:
                break
            time.sleep(0.05)
        who = f"pid {pid}" if pid is not None else "pid unknown"
        raise AlreadyRunning(
            f"the service is already running ({who}); stop it before starting another"
        ) from None
    try:
        atomic_write(pid_path(), f"{os.getpid()}\n".encode(), sync=False)
        yield
    finally:
        if _read_pid(pid_path()) == os.getpid():
            with contextlib.suppress(OSError):
                pid_path().unlink()
        os.close(fd)


_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _watch_threads(service: Service) -> None:
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        previous(args)
        name = args.thread.name if args.thread is not None else "?"
        service.report_fatal(f"thread {name} died: {args.exc_type.__name__}: {args.exc_value}")

    threading.excepthook = hook


def run_daemon(*, verbose: int = 0) -> int:
    """`rulesync daemon`: serve in the foreground until SIGTERM / SIGINT; SIGHUP reloads."""
    config = load_config()
    with single_instance():
        level = "debug" if verbose else None
        configure(level or config.log_level, log_file=log_path(), console=True)
        service = Service(config, log_level=level)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        previous = {sig: signal.signal(sig, lambda *_: None) for sig in _SIGNALS}
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

        def wake() -> None:
            with contextlib.suppress(OSError):
                os.write(wake_w, b"\0")

        service.on_exit = wake
        _watch_threads(service)
        worker = threading.Thread(target=service.run, name="rulesync-worker", daemon=True)
        worker.start()
        deadline: float | None = None
        try:
            while worker.is_alive():
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([wake_r], [], [], timeout)
                if not ready:
                    service.log.warning("daemon.stop_timeout", grace_seconds=STOP_GRACE)
                    break
                for number in os.read(wake_r, 64):
                    if number == 0:  # the worker has finished (a fatal error)
                        worker.join(STOP_GRACE)
                    elif number == signal.SIGHUP:
                        service.request_reload()
                    elif number in (signal.SIGTERM, signal.SIGINT):
                        service.request_stop(signal.Signals(number).name)
                        if deadline is None:
                            deadline = time.monotonic() + STOP_GRACE
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)
        worker.join(0.5)
        return service.exit_code
