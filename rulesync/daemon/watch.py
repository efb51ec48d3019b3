"""Watching folders, never recursively: one inotify instance read by one thread for every
watch, whatever the number of projects, and a polling observer, created only when needed, for
owners whose watches ran out or whose folders sit on a network filesystem. Handlers only post a
`Changed` message; the worker does the rest.

watchdog's own inotify observer runs a thread (an emitter) per watched folder: 2,000 projects
would be thousands of threads, past a service unit's task limit. Its inotify reader
(`InotifyFD`: one descriptor, one reading thread, callbacks per watch) serves every folder here
instead; watchdog stays the source of the events. What one project may watch is still bounded:
its root, its rules folders, its git dir while deferred, its library's root and at most
LIBRARY_TIER_WATCHES tier folders (all of a small library's, else those of the project's chain);
a longer chain is checked on a timer instead (`checks`). The polling observer keeps watchdog's
thread per folder: only owners that fell back to it pay for one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

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
from watchdog.observers.inotify_c import (
    CallbackId,
    InotifyConstants,
    InotifyEvent,
    InotifyFD,
    Mask,
    WatchDescriptor,
)

from rulesync.config import Config
from rulesync.daemon.events import Changed, Post, WatchKind, is_relevant, saves_marker
from rulesync.daemon.mounts import filesystem_type, mount_table, needs_polling
from rulesync.library import bundled_root
from rulesync.logs import Logger
from rulesync.project import NESTED_RULE_FOLDERS, Inputs
from rulesync.remote import is_url
from rulesync.targets import TARGETS

# inotify reports watch exhaustion as ENOSPC and instance exhaustion as EMFILE.
EXHAUSTED = (errno.ENOSPC, errno.EMFILE)
# Tier folders of one project's chain watched one by one; a longer chain is checked on a timer.
LIBRARY_TIER_WATCHES = 8
# Folders one project may watch: root, git dir, library root, the tier folders, the folders
# of every target it may enable and some of their nested rule folders (a constant, whatever
# the library's size).
TARGET_FOLDERS = len({f for t in TARGETS.values() for f in t.folders if f})
MAX_PROJECT_WATCHES = 3 + LIBRARY_TIER_WATCHES + TARGET_FOLDERS + NESTED_RULE_FOLDERS
# Seconds a reading of the mount table serves for (a folder mounted since is seen after it).
MOUNTS_TTL = 1.0
# Only the kinds of event that follow a write: opens and reads (ours included) never wake us.
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    FileClosedEvent,
    DirDeletedEvent,
]


def default_library(config: Config) -> Path | None:
    """The user's configured library folder: what to watch for a project that never loaded
    (a broken library is fixed inside its folder), never a folder a marker names."""
    if config.library == "default":
        return bundled_root()
    return None if is_url(config.library) else Path(config.library)


class WatchPlan(NamedTuple):
    """What one project needs: folders to watch (resolved path → kind), and library folders
    too many to watch one by one, to check on a timer instead."""

    watched: dict[str, WatchKind]
    checked: tuple[str, ...] = ()


def plan_watches(
    root: Path, inputs: Inputs | None, library: Path | None, git_dir: Path | None
) -> WatchPlan:
    """The folders to watch for the project at `root`, from what its last load read (`inputs`);
    `library` is the folder to watch when nothing was read yet, `git_dir` one to add."""
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        return WatchPlan({})
    watched: dict[str, WatchKind] = {}
    checked: tuple[str, ...] = ()
    if inputs is not None and inputs.remote is None:
        watched[os.path.realpath(inputs.library_root)] = WatchKind.LIBRARY
        # A small library is watched whole, so a phase change moves no watch; a large one
        # only along the project's chain, or, when that is long too, checked on a timer.
        every = inputs.all_tier_dirs
        used = every if len(every) <= LIBRARY_TIER_WATCHES else inputs.tier_dirs
        tiers = [os.path.realpath(t) for t in used if t.is_dir()]
        if len(tiers) <= LIBRARY_TIER_WATCHES:
            watched.update(dict.fromkeys(tiers, WatchKind.LIBRARY))
        else:
            checked = tuple(tiers)
    elif inputs is None and library is not None and library.is_dir():
        watched[os.path.realpath(library)] = WatchKind.LIBRARY
    for folder in inputs.target_folders if inputs is not None else ():
        # Watched once it exists, never through a symlink (nothing is written through one).
        parts = folder.split("/")
        path = Path(real_root).joinpath(*parts)
        links = (
            Path(real_root).joinpath(*parts[:i]).is_symlink() for i in range(1, len(parts) + 1)
        )
        if path.is_dir() and not any(links):
            watched[str(path)] = WatchKind.RULES
    if git_dir is not None and git_dir.is_dir():
        watched[os.path.realpath(git_dir)] = WatchKind.GIT
    watched[real_root] = WatchKind.MARKER
    return WatchPlan(watched, checked)


class Handler(FileSystemEventHandler):
    """Turns watchdog events for one folder into messages for its subscribers; never raises."""

    def __init__(self, path: str, post: Post, log: Logger) -> None:
        super().__init__()
        self.path = path
        self.post = post
        self.log = log
        # Owner → kind. Changed by the worker and read by the reading thread, both holding
        # the lock: a folder every project shares (a library's) has thousands of subscribers,
        # and copying them all at each subscription would cost each start-up pass N².
        self.subscribers: dict[str, WatchKind] = {}
        self.lock = threading.Lock()
        self.deleted = False  # the kernel dropped its inotify watch

    def dispatch(self, event: FileSystemEvent) -> None:
        """An event of the polling observer."""
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        is_self = src == self.path and event.is_directory
        self._changed(event.event_type, os.path.basename(src), os.path.basename(dest), is_self)

    # The inotify reader's callbacks (watchdog's WatchCallback), on its thread.
    def on_event(self, event: InotifyEvent) -> None:
        """An event of the inotify reader: one per name, a rename's two halves apart."""
        seen = _inotify_event(event.mask)
        if seen is not None:
            event_type, moved_to = seen
            name = os.fsdecode(event.name)
            if event_type == "self":
                self._changed("deleted", "", "", True)
            elif moved_to:
                self._changed(event_type, "", name, False)
            else:
                self._changed(event_type, name, "", False)

    def on_watch_deleted(self, wd: WatchDescriptor) -> None:
        """The kernel dropped the watch (its folder is gone): the next sync watches anew."""
        self.deleted = True

    def on_queue_overflow(self) -> None:
        """Events were lost: every subscriber looks again."""
        self._changed("overflow", "", "", True)

    def on_events_lost(self, *_: object) -> None:
        """Called after on_queue_overflow (watchdog from 7.1.1): nothing more to do."""

    def _changed(self, event_type: str, src: str, dest: str, is_self: bool) -> None:
        try:
            names = {n for n in (src, dest) if n}
            with self.lock:
                subscribers = list(self.subscribers.items())
            for owner, kind in subscribers:
                if not is_relevant(kind, names, is_self=is_self):
                    continue
                saved = kind == WatchKind.MARKER and saves_marker(event_type, src, dest)
                self.post(Changed(owner, kind, saved))
        except Exception:
            # Raising would take watchdog's thread down; the reconcile timer heals what a lost
            # event would have caught, so log it and carry on.
            with contextlib.suppress(Exception):
                self.log.exception("watch.handler_failed", folder=self.path)


# What inotify reports for a watched folder, as watchdog's filtered events would name it
# (EVENT_FILTER): a file's create, modify (attributes too), close after writing, delete and
# either half of a rename; a child folder's delete; the folder itself going away.
_I = InotifyConstants
INOTIFY_MASK = Mask(
    _I.IN_CREATE
    | _I.IN_MODIFY
    | _I.IN_ATTRIB
    | _I.IN_CLOSE_WRITE
    | _I.IN_DELETE
    | _I.IN_MOVED_FROM
    | _I.IN_MOVED_TO
    | _I.IN_DELETE_SELF
    | _I.IN_MOVE_SELF
    | _I.IN_DONT_FOLLOW
    | _I.IN_ONLYDIR
)


def _inotify_event(mask: int) -> tuple[str, bool] | None:
    """The event type a raw inotify mask stands for, and whether it names a rename's new
    name; None for what the service does not look at."""
    if mask & (_I.IN_DELETE_SELF | _I.IN_MOVE_SELF):
        return "self", False
    if mask & _I.IN_ISDIR:
        return ("deleted", False) if mask & _I.IN_DELETE else None
    for bit, event_type in (
        (_I.IN_CREATE, "created"),
        (_I.IN_MODIFY | _I.IN_ATTRIB, "modified"),
        (_I.IN_CLOSE_WRITE, "closed"),
        (_I.IN_DELETE, "deleted"),
        (_I.IN_MOVED_FROM, "moved"),
    ):
        if mask & bit:
            return event_type, False
    return ("moved", True) if mask & _I.IN_MOVED_TO else None


class InotifyReader:
    """One inotify instance and the one thread that reads it, for every watched folder."""

    def __init__(self) -> None:
        # Creating the instance raises EMFILE when none can be had.
        self._fd = InotifyFD()
        self._fd.name = "rulesync-inotify"
        self._ids = 0

    def start(self) -> None:
        self._fd.start()

    def is_alive(self) -> bool:
        return self._fd.is_alive()

    def stop(self) -> None:
        self._fd.stop()

    def join(self, timeout: float) -> None:
        self._fd.join(timeout)

    def schedule(self, handler: Handler, path: str) -> tuple[WatchDescriptor, CallbackId]:
        """Watch `path` for `handler`; raises OSError (ENOSPC when the watches ran out)."""
        self._ids += 1
        ident = CallbackId(self._ids)
        return self._fd.add_callback(os.fsencode(path), INOTIFY_MASK, handler, ident), ident

    def unschedule(self, token: tuple[WatchDescriptor, CallbackId]) -> None:
        self._fd.remove_callbacks([token])


class _Watch:
    """One watched folder, the handle its reader or observer gave it, and its subscribers."""

    __slots__ = ("emitter", "handler", "identity", "observed", "path", "subscribers", "token")

    def __init__(
        self,
        path: str,
        identity: tuple[int, int],
        handler: Handler,
        token: tuple[WatchDescriptor, CallbackId] | None = None,
        observed: ObservedWatch | None = None,
        emitter: EventEmitter | None = None,
    ) -> None:
        self.path = path
        self.identity = identity
        self.handler = handler
        self.token = token  # inotify: the reader's watch and callback
        self.observed = observed  # polling: the observer's watch and its emitter
        self.emitter = emitter
        self.subscribers = handler.subscribers  # owner → kind, changed only through these

    def set(self, owner: str, kind: WatchKind) -> None:
        with self.handler.lock:
            self.subscribers[owner] = kind

    def remove(self, owner: str) -> None:
        with self.handler.lock:
            self.subscribers.pop(owner, None)

    def stale(self) -> bool:
        """True once the folder was replaced: the kernel dropped its watch, or its emitter
        stopped, when the old one was deleted (the inode number alone is not enough: ext4
        hands a freed one straight out again)."""
        dead = self.handler.deleted or (self.emitter is not None and not self.emitter.is_alive())
        return dead or self.identity != _identity(self.path)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class Watcher:
    """Owners (a project's key, or the registry) subscribe to folders; a folder several owners
    want (a library) has one watch."""

    def __init__(self, post: Post, log: Logger) -> None:
        self._post = post
        self._log = log
        self._watches: dict[str, _Watch] = {}
        self._owned: dict[str, dict[str, WatchKind]] = {}
        self.inotify: InotifyReader | None = None
        self.polling: BaseObserver | None = None
        self.polled: dict[str, str] = {}  # owner → why it is polled (logged once)
        self.unwatched: set[str] = set()  # owners a watch was refused to (logged once)
        self._mounts: tuple[float, list[tuple[str, str]]] = (float("-inf"), [])

    def start(self) -> None:
        """Start the inotify reader (or, when no inotify instance can be had, only polling)."""
        try:
            reader = InotifyReader()
        except OSError as exc:
            if exc.errno not in EXHAUSTED:
                raise
            self._log.warning(
                "watch.polling", scope="all", reason=f"inotify unavailable: {exc.strerror}"
            )
            self.polled["*"] = str(exc.strerror)
            return
        reader.start()
        self.inotify = reader

    def _polling_observer(self) -> BaseObserver:
        if self.polling is None:
            from watchdog.observers.polling import PollingObserver

            self.polling = PollingObserver(timeout=1.0)
            self.polling.start()
        return self.polling

    def alive(self) -> bool:
        """False when a reading thread that should be running has died."""
        return all(o.is_alive() for o in (self.inotify, self.polling) if o is not None)

    def stop(self, timeout: float) -> None:
        """Stop the reader and the polling observer, waiting at most `timeout` seconds in all."""
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

    def owned(self, owner: str) -> dict[str, WatchKind]:
        """The folders `owner` is subscribed to now (resolved path → kind)."""
        return dict(self._owned.get(owner, {}))

    def is_polled(self, owner: str) -> bool:
        """Whether `owner`'s folders are polled rather than watched by inotify."""
        return owner in self.polled or "*" in self.polled

    def subscribe(self, owner: str, wanted: Mapping[str, WatchKind]) -> list[str]:
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
            others: dict[str, WatchKind] = {}
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
            for subscriber, subscribed_kind in (*others.items(), (owner, kind)):
                current.set(subscriber, subscribed_kind)
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
        current.remove(owner)
        if not current.subscribers:
            self._drop(current)

    def _drop(self, current: _Watch) -> None:
        self._watches.pop(current.path, None)
        for owner in current.subscribers:
            self._owned.get(owner, {}).pop(current.path, None)
        with contextlib.suppress(KeyError, OSError, RuntimeError):
            if current.token is not None and self.inotify is not None:
                self.inotify.unschedule(current.token)
            elif current.observed is not None and self.polling is not None:
                self.polling.unschedule(current.observed)

    def _schedule(self, owner: str, path: str) -> _Watch | None:
        identity = _identity(path)
        if identity is None:
            return None
        handler = Handler(path, self._post, self._log)
        why = self.polled.get(owner) or self.polled.get("*")
        if why is None:
            fstype = filesystem_type(path, self._mount_table())
            if needs_polling(fstype):
                why = f"network filesystem ({fstype})"
                self._fall_back(owner, why)
        if why is None and self.inotify is not None:
            try:
                token = self.inotify.schedule(handler, path)
            except OSError as exc:
                if exc.errno not in EXHAUSTED:
                    # The folder vanished between stat and schedule: the next sync retries.
                    return None
                self._fall_back(owner, f"inotify limit reached ({errno.errorcode[exc.errno]})")
            else:
                return self._add(_Watch(path, identity, handler, token=token))
        try:
            observer = self._polling_observer()
            observed = observer.schedule(handler, path, recursive=False, event_filter=EVENT_FILTER)
        except OSError:
            return None
        except RuntimeError as exc:
            # The polling observer runs a thread per folder; a task limit (systemd TasksMax)
            # refuses more. Unwatched, the project is still synced by the reconcile timer.
            if owner not in self.unwatched:
                self.unwatched.add(owner)
                self._log.error("watch.failed", project=owner, reason=str(exc))
            return None
        emitter = next((e for e in observer.emitters if e.watch == observed), None)
        return self._add(_Watch(path, identity, handler, observed=observed, emitter=emitter))

    def _mount_table(self) -> list[tuple[str, str]]:
        """The mounts, read again once MOUNTS_TTL has passed: a pass watching thousands of
        folders reads them once, not once per folder."""
        read_at, table = self._mounts
        now = time.monotonic()
        if now - read_at >= MOUNTS_TTL:
            table = mount_table()
            self._mounts = (now, table)
        return table

    def _add(self, watch: _Watch) -> _Watch:
        self._watches[watch.path] = watch
        return watch

    def _fall_back(self, owner: str, why: str) -> None:
        if owner not in self.polled:
            self.polled[owner] = why
            self._log.warning("watch.polling", project=owner, reason=why)
