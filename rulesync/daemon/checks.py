"""Library folders checked on a timer instead of watched: a chain of tiers too long to give
each folder a watch (and a thread) costs one listing per folder per check, whatever its size."""

from __future__ import annotations

import os
from collections.abc import Iterable

# Seconds between two checks of the folders no watch covers.
CHECK_INTERVAL = 2.0

Fingerprint = tuple[tuple[str, int, int, int], ...]


def fingerprint(folders: Iterable[str]) -> Fingerprint:
    """What a check compares: each rule file's folder, name, inode, size and mtime."""
    seen: list[tuple[str, int, int, int]] = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            seen.append((folder, -1, -1, -1))  # gone: its return is a change too
            continue
        for entry in entries:
            if not entry.name.endswith(".mdc"):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            seen.append((entry.path, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(sorted(seen))


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
