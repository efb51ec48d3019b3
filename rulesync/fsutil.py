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


def check_regular(path: Path, info: os.stat_result, *, limit: int, what: str) -> int:
    """`info`'s size, refusing anything but a regular file of at most `limit` bytes."""
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"{path}: {what} is not a regular file; replace it with a file")
    if info.st_size > limit:
        raise InvalidInput(
            f"{path}: {what} is {info.st_size} bytes, more than the {limit} allowed; shorten it"
        )
    return info.st_size


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
        check_regular(path, os.fstat(fd), limit=limit, what=what)
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


def temporary_name(name: str) -> str:
    """A fresh hidden name beside `name`, carrying TMP_MARK so a later sweep finds it.

    Random, not the pid: two threads of one process writing the same file must not share it.
    """
    import secrets  # only a write needs it; it loads `random` and `hmac` besides

    return f".{name}{TMP_MARK}{secrets.token_hex(6)}"


def _naming(exc: OSError, path: Path) -> OSError:
    """`exc` with the file it concerns, so "No space left on device" says which file."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def atomic_write(
    path: Path, data: bytes, *, sync: bool = True, dir_fd: int | None = None, mode: int = 0o644
) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename it in place.

    A crash at any point leaves the old file or the new one, never a mix; a leftover temporary
    file carries TMP_MARK in its name so the next run can sweep it. With `dir_fd` (a folder
    opened by open_folder) the file is `path.name` inside that folder, so swapping the folder
    for a symlink meanwhile cannot redirect the write; `path` then only names it in errors.
    `mode`: the new file's permissions (before the umask).
    """
    name = path.name if dir_fd is not None else str(path)
    tmp = temporary_name(path.name)
    if dir_fd is None:
        tmp = str(path.with_name(tmp))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, mode, dir_fd=dir_fd)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if sync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise


def open_folder(root: Path, folder: Path, *, create: bool = False) -> int:
    """A descriptor of `folder` (inside `root`), opened one component at a time from `root`'s
    real location without following any link, so no later swap can redirect what is
    written through it. With `create`, missing components are made. The caller closes it.
    """
    base = os.path.realpath(root)
    real = os.path.realpath(folder)
    if not is_inside(Path(real), Path(base)):
        raise UnsafePath(f"{folder}: folder leads outside {root} (to {real}); remove the symlink")
    parts = [p for p in os.path.relpath(real, base).split(os.sep) if p not in ("", ".")]
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(base, flags)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                child = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(
                        f"{folder}: `{part}` changed into a symlink or a file while rulesync "
                        "was writing; nothing was written through it"
                    ) from None
                raise _naming(exc, folder) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames, unlinks) to disk."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sweep_temporaries(folder: Path | int) -> list[str]:
    """Remove temporary files a killed run left in `folder` (a path or an open folder's
    descriptor); return their names."""
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if name.startswith(".") and TMP_MARK in name:
            with contextlib.suppress(OSError):
                if isinstance(folder, int):
                    os.unlink(name, dir_fd=folder)
                else:
                    os.unlink(folder / name)
                removed.append(name)
    return removed
