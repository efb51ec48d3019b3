"""File-system helpers: the one atomic write, careful reads, and containment checks."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from pathlib import Path

from rulesync.errors import InvalidInput, UnsafePath

TMP_MARK = ".rulesync-tmp-"


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def is_inside(path: Path, root: Path) -> bool:
    """True when the real location of `path` is `root` or below it (symlinks resolved)."""
    real = os.path.realpath(path)
    base = os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def ensure_inside(path: Path, root: Path, what: str) -> None:
    """Raise UnsafePath unless `path` resolves inside `root`."""
    if not is_inside(path, root):
        raise UnsafePath(
            f"{path}: {what} leads outside {root} (to {os.path.realpath(path)}); "
            "remove the symlink or point it inside"
        )


def read_regular(path: Path, *, limit: int, follow: bool = True, what: str = "file") -> bytes:
    """Read a regular file of at most `limit` bytes; refuse FIFOs, folders and devices.

    With follow=False a symlink is refused (O_NOFOLLOW), so nothing is read through it.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(f"{path}: is a symlink; rulesync does not read through it") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput(f"{path}: {what} is not a regular file; replace it with a file")
        if st.st_size > limit:
            raise InvalidInput(
                f"{path}: {what} is {st.st_size} bytes, more than the {limit} allowed; shorten it"
            )
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise InvalidInput(
                f"{path}: {what} is larger than the {limit} bytes allowed; shorten it"
            )
        return data
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename it in place.

    A crash at any point leaves the old file or the new one, never a mix; a leftover temporary
    file carries TMP_MARK in its name so the next run can sweep it.
    """
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames, unlinks) to disk."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sweep_temporaries(folder: Path) -> list[str]:
    """Remove temporary files a killed run left in `folder`; return their names."""
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if name.startswith(".") and TMP_MARK in name:
            with contextlib.suppress(OSError):
                os.unlink(folder / name)
                removed.append(name)
    return removed
