"""The user's own files: everything rulesync writes in its config, state, log and cache
folders (log, status, pid, registry, locks, backups, fetched libraries) is 0600 in 0700
folders, whatever the umask, so another local user can neither read it nor take a lock."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from rulesync.fsutil import atomic_write
from rulesync.paths import APP

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def folder(path: Path) -> Path:
    """`path`, created with its missing parents as 0700 folders; an existing one that others
    may enter is narrowed to 0700 (when it is the user's own), and so is each folder between
    it and rulesync's own folder (`~/.local/state/rulesync`) that an earlier version made."""
    missing: list[Path] = []
    here = path
    while not os.path.isdir(here) and here.parent != here:
        missing.append(here)
        here = here.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(created, FOLDER_MODE)
    chain = [path, *path.parents]
    mine = next((i for i, p in enumerate(chain) if p.name == APP), 0)
    for here in chain[: mine + 1]:  # never above rulesync's own folder
        narrow(here, FOLDER_MODE)
    return path


def narrow(path: Path | int, mode: int) -> None:
    """Take away what `mode` does not allow from an existing file or folder (a path, or an
    open descriptor) that the user owns; anything else is left as it is."""
    with contextlib.suppress(OSError):
        info = os.stat(path)
        if info.st_uid == os.getuid() and info.st_mode & 0o777 & ~mode:
            if isinstance(path, int):
                os.fchmod(path, info.st_mode & mode & 0o777)
            else:
                os.chmod(path, info.st_mode & mode & 0o777, follow_symlinks=False)


def write(path: Path, data: bytes, *, sync: bool = True) -> None:
    """The atomic write of a private file: 0600, in a 0700 folder."""
    folder(path.parent)
    atomic_write(path, data, sync=sync, mode=FILE_MODE)
