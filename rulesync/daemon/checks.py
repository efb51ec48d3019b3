"""What watched and unwatched folders hold, compared without reading a file: a stat of each
entry that matters. A chain of library tiers too long to give each folder a watch is checked on
a timer (`FolderChecks`: one listing per folder per check, whatever its size), and the
reconcile timer re-reads only the projects whose folders changed since their last sync (`scan`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from rulesync.daemon.events import WatchKind, is_relevant
from rulesync.git import GitDirs, head_id

# Seconds between two checks of the folders no watch covers.
CHECK_INTERVAL = 2.0

# (path, inode, size, mtime, ctime) of each entry that matters; a folder itself as
# (path, device, inode, 0, 0), or (path, -1, -1, -1, -1) when it cannot be listed.
Entry = tuple[str, int, int, int, int]
Fingerprint = tuple[Entry, ...]


class Scan(NamedTuple):
    """What a set of folders held, and per folder the newest change time (ctime, which no
    program can set back) of the folder and the entries that matter in it."""

    entries: Fingerprint
    newest: dict[str, int]


# What one folder held: its entries, and the newest change time among them.
Folder = tuple[list[Entry], int]


def scan(watched: Mapping[str, WatchKind], shared: dict[str, Folder] | None = None) -> Scan:
    """Stat the entries of each folder (resolved path → kind) that a change event in it would
    wake the service for: the same names `is_relevant` lets through. Library folders found in
    `shared` are not listed again, and are added to it (one listing per pass over projects)."""
    seen: list[Entry] = []
    newest: dict[str, int] = {}
    for folder, kind in watched.items():
        if shared is not None and kind == WatchKind.LIBRARY:
            held = shared.get(folder)
            if held is None:
                held = shared[folder] = _list(folder, kind)
        else:
            held = _list(folder, kind)
        seen += held[0]
        newest[folder] = held[1]
    return Scan(tuple(sorted(seen)), newest)


def _list(folder: str, kind: WatchKind) -> Folder:
    try:
        st = os.stat(folder)
        entries = list(os.scandir(folder))
    except OSError:
        return [(folder, -1, -1, -1, -1)], -1  # gone: its return is a change too
    seen: list[Entry] = [(folder, st.st_dev, st.st_ino, 0, 0)]
    latest = st.st_ctime_ns
    for entry in entries:
        if not is_relevant(kind, (entry.name,), is_self=False):
            continue
        try:
            st = entry.stat()
        except OSError:
            seen.append((entry.path, -1, -1, -1, -1))  # a dangling link
            continue
        seen.append((entry.path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        latest = max(latest, st.st_ctime_ns)
    return seen, latest


class Seen(NamedTuple):
    """A project as its last successful sync left it: the files HEAD's commit is read from,
    their stat, and its watched folders' entries."""

    head_files: tuple[str, ...]
    head_stats: tuple[tuple[int, ...] | None, ...]
    entries: Fingerprint


def head_files(git: GitDirs) -> tuple[str, ...] | None:
    """The files HEAD's commit is read from (HEAD, the branch's loose ref, packed-refs), whose
    stat tells whether HEAD moved; None where HEAD cannot be read without git."""
    if head_id(git) is None:
        return None
    folder = os.fspath(git.git_dir)
    files = [os.path.join(folder, "HEAD"), os.path.join(folder, "packed-refs")]
    try:
        with open(files[0], "rb") as handle:
            text = handle.read(1024).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if text.startswith("ref: "):
        files.append(os.path.join(folder, *text.removeprefix("ref: ").split("/")))
    return tuple(files)


def file_stats(paths: Iterable[str]) -> tuple[tuple[int, ...] | None, ...]:
    """Inode, size and times of each file (None: missing), never through a link."""
    found: list[tuple[int, ...] | None] = []
    for path in paths:
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            found.append(None)
            continue
        found.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(found)


def fingerprint(folders: Iterable[str]) -> Fingerprint:
    """What a check of library folders compares: each rule file's inode, size and times."""
    return scan(dict.fromkeys(folders, WatchKind.LIBRARY)).entries


class FolderChecks:
    """Per owner, the folders to check and what they held at the last check."""

    def __init__(self) -> None:
        self._folders: dict[str, tuple[str, ...]] = {}
        self._seen: dict[str, Fingerprint] = {}
        self.next_at = float("inf")

    def set(self, owner: str, folders: tuple[str, ...], now: float) -> None:
        """Check exactly `folders` for `owner` from now on (none: stop checking)."""
        if not folders:
            self._folders.pop(owner, None)
            self._seen.pop(owner, None)
        elif self._folders.get(owner) != folders:
            self._folders[owner] = folders
            self._seen[owner] = fingerprint(folders)
        if not self._folders:
            self.next_at = float("inf")
        elif self.next_at == float("inf"):
            self.next_at = now + CHECK_INTERVAL

    def changed(self, now: float) -> list[str]:
        """The owners whose folders changed since the last check (one check of each)."""
        self.next_at = now + CHECK_INTERVAL if self._folders else float("inf")
        found = []
        for owner, folders in self._folders.items():
            current = fingerprint(folders)
            if current != self._seen.get(owner):
                self._seen[owner] = current
                found.append(owner)
        return found
