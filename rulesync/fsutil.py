"""File-system helpers: the one walk under a project (Folders), the one atomic write, careful
reads, and containment checks for what lies outside a project (libraries)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
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
    flags = _FILE_FLAGS if follow else _FILE_FLAGS | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(f"{path}: is a symlink; rulesync does not read through it") from None
        raise
    try:
        return read_open(fd, path, limit=limit, what=what)
    finally:
        os.close(fd)


_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def read_open(fd: int, path: Path | str, *, limit: int, what: str = "file", key: str = "") -> bytes:
    """The bytes of the open regular file `fd` (`path` names it in errors): at most `limit`,
    never more than `limit + 1` read, so a huge file costs no memory before it is refused;
    `key` is the config key that raises the limit, named in the refusal."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"{path}: {what} is not a regular file; replace it with a file")
    raise_it = f" ({key} in the rulesync config)" if key else ""
    if info.st_size > limit:
        raise InvalidInput(
            f"{path}: {what} is {info.st_size} bytes, more than the {limit} allowed{raise_it}; "
            "shorten it"
        )
    chunks = []
    remaining = limit + 1
    while remaining > 0:
        want = min(remaining, 1 << 20)
        chunk = os.read(fd, want)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
        if len(chunk) < want:
            break  # a regular file reads short only at its end: no read more to learn it
    data = b"".join(chunks)
    if len(data) > limit:
        raise InvalidInput(
            f"{path}: {what} is larger than the {limit} bytes allowed{raise_it}; shorten it"
        )
    return data


# --- the one walk: every path under a project, reached from its root ------------------------

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def project_parts(relpath: str) -> list[str]:
    """The components of a project-relative POSIX path (`""`: the root itself); UnsafePath for
    an absolute path, an empty, `.` or `..` component, or any `.git` (in any case): nothing
    under a git dir is ever rulesync's to read or write."""
    if not relpath:
        return []
    parts = relpath.split("/")
    for part in parts:
        if part in ("", ".", "..") or part.casefold() == ".git" or "\0" in part:
            raise UnsafePath(f"{relpath}: is not a plain project-relative path outside .git")
    return parts


def _refusal(root: Path, parts: list[str], parent: int) -> InvalidInput:
    """Why the last of `parts` could not be opened as a folder: a symlink, or something else."""
    where = root.joinpath(*parts)
    try:
        link = stat.S_ISLNK(os.lstat(parts[-1], dir_fd=parent).st_mode)
    except OSError:
        link = False
    if link:
        return UnsafePath(
            f"{where}: is a symlink; rulesync follows no link inside a project, so nothing is "
            "read or written through it; replace it with a folder"
        )
    return InvalidInput(f"{where}: exists but is not a folder; move it away")


class Folders:
    """Folders under a project root, each reached from the root one component at a time
    without following any link (`O_NOFOLLOW` on each step): a symlink anywhere on the way is
    refused, naming it, and a folder swapped for a link after it was opened cannot redirect
    what is read or written through its descriptor. Every read, write and deletion under a
    project goes through this walk. Each folder is opened once; `close` releases them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._open: dict[str, int] = {}

    def __enter__(self) -> Folders:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, folder: str, *, create: bool = False) -> int | None:
        """The descriptor of `folder` (project-relative POSIX; `""`: the root); None when it
        is missing and not `create`d (missing folders are then made, 0777 less the umask)."""
        fd = self._open.get(folder)
        if fd is not None:
            return fd
        parts = project_parts(folder)
        if not parts:
            fd = os.open(self.root, _FOLDER_FLAGS)
        else:
            parent = self.open("/".join(parts[:-1]), create=create)
            if parent is None:
                return None
            fd = self._step(parent, parts, create)
            if fd is None:
                return None
        self._open[folder] = fd
        return fd

    def _step(self, parent: int, parts: list[str], create: bool) -> int | None:
        try:
            return self._child(parent, parts)
        except FileNotFoundError:
            if not create:
                return None
        with contextlib.suppress(FileExistsError):
            os.mkdir(parts[-1], 0o777, dir_fd=parent)
        return self._child(parent, parts)

    def _child(self, parent: int, parts: list[str]) -> int:
        try:
            return os.open(parts[-1], _FOLDER_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _refusal(self.root, parts, parent) from None
            raise _naming(exc, self.root.joinpath(*parts)) from None

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def open_file(folders: Folders, relpath: str) -> int | None:
    """A read-only descriptor of the file at `relpath`, reached by the walk and never through a
    symlink (UnsafePath naming a link there); None when it or its folder is missing."""
    folder, _, name = relpath.rpartition("/")
    project_parts(relpath)
    fd = folders.open(folder)
    if fd is None:
        return None
    try:
        return os.open(name, _FILE_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(
                f"{folders.root / relpath}: is a symlink; rulesync does not read through it"
            ) from None
        raise _naming(exc, folders.root / relpath) from None


def read_under(
    root: Path,
    relpath: str,
    *,
    limit: int,
    what: str = "file",
    key: str = "",
    folders: Folders | None = None,
) -> bytes:
    """The bytes of the regular file `relpath` under `root`, reached by the walk (see
    Folders); FileNotFoundError when it is missing, InvalidInput past `limit` bytes."""
    with contextlib.ExitStack() as stack:
        walk = folders or stack.enter_context(Folders(root))
        fd = open_file(walk, relpath)
        if fd is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(root / relpath))
        try:
            return read_open(fd, root / relpath, limit=limit, what=what, key=key)
        finally:
            os.close(fd)


def temporary_name(name: str) -> str:
    """A fresh hidden name beside `name`, carrying TMP_MARK so a later sweep finds it.

    A random tag of this process and a count, not the pid nor a random draw per file (a
    syscall each): two threads of one process writing the same file never share a name.
    """
    return f".{name}{TMP_MARK}{_TAG}{next(_NAMES) & 0xFFFFFF:06x}"


def _new_tag() -> None:
    global _TAG, _NAMES
    _TAG = os.urandom(3).hex()
    _NAMES = itertools.count()


_TAG = ""
_NAMES = itertools.count()
_new_tag()
os.register_at_fork(after_in_child=_new_tag)  # a forked child draws a tag of its own


def _naming(exc: OSError, path: Path | str) -> OSError:
    """`exc` with the file it concerns, so "No space left on device" says which file."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def atomic_write(
    path: Path | str,
    data: bytes,
    *,
    sync: bool = True,
    dir_fd: int | None = None,
    mode: int = 0o644,
) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename it in place.

    A crash at any point leaves the old file or the new one, never a mix; a leftover temporary
    file carries TMP_MARK in its name so the next run can sweep it. With `dir_fd` (a folder
    opened by the walk, Folders) the file is `path`'s last component inside that folder, so
    swapping the folder for a symlink meanwhile cannot redirect the write; `path` then only
    names it in errors. `mode`: the new file's permissions (before the umask).
    """
    folder, name = os.path.split(os.fspath(path))
    tmp = temporary_name(name)
    if dir_fd is None:
        name = os.fspath(path)
        tmp = os.path.join(folder, tmp)
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
