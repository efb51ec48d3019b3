"""Carrying out a plan in the project: atomic writes, deletions, backups, manifest last."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from rulesync import manifest as manifest_mod
from rulesync import private
from rulesync.errors import Deferred, InvalidInput
from rulesync.fsutil import TMP_MARK, Folders, atomic_write, sweep_temporaries
from rulesync.plan import Kind, Plan
from rulesync.targets import owner

# Where versions before targets kept the lock of a project outside git.
LEGACY_LOCK = ".cursor/.rulesync.lock"


def _backup(name: str, dir_fd: int, backup_dir: Path) -> Path:
    """Copy the file `name` of an open folder into `backup_dir` (a symlink as its target
    text), never reading through a link: 0600 in folders made 0700, the user's alone."""
    private.folder(backup_dir)
    target = backup_dir / name
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        # A symlink: its target's text is what the user had there.
        target = backup_dir / f"{name}.symlink.txt"
        link = (os.readlink(name, dir_fd=dir_fd) + "\n").encode()
        atomic_write(target, link, sync=False, mode=private.FILE_MODE)
        return target
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise InvalidInput(f"{backup_dir}: {name} is not a regular file; nothing was saved")
        atomic_write(target, handle.read(), sync=False, mode=private.FILE_MODE)
    return target


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def _current(name: str, dir_fd: int) -> bytes | None:
    """A file's bytes as rulesync reads them (None: absent, a symlink or not a file)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


def _sweep(folders: Folders, changed: set[str], root_names: set[str]) -> None:
    """Remove temporaries a killed run left: in a target's folder all of rulesync's, at the
    root only those of rulesync's own files (the marker is written there by other commands)."""
    for folder in changed - {""}:
        fd = folders.open(folder, create=False)
        if fd is not None:
            sweep_temporaries(fd)
    root = folders.open("")
    assert root is not None
    for name in os.listdir(root):
        if any(name.startswith(f".{own}{TMP_MARK}") for own in root_names):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=root)


def _prune(folders: Folders, deleted: list[str]) -> None:
    """Remove the folders deletions left empty: inside what each path's target owns, and the
    folders above a target's own (`.claude` above `.claude/rules`), made for it and, once
    empty, mere clutter (rmdir removes an empty folder only)."""
    candidates: set[str] = set()
    for path in deleted:
        target = owner(path)
        if target is None:
            continue
        folder = path.rpartition("/")[0]
        while folder and any(f"{folder}/".startswith(o) for o in target.owns if o.endswith("/")):
            candidates.add(folder)
            folder = folder.rpartition("/")[0]
        while folder and any(own.startswith(f"{folder}/") for own in target.folders):
            candidates.add(folder)
            folder = folder.rpartition("/")[0]
    for folder in sorted(candidates, key=lambda f: -f.count("/")):
        parent, _, name = folder.rpartition("/")
        fd = folders.open(parent, create=False)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=fd)


def execute(
    plan: Plan,
    root: Path,
    writes: Mapping[str, bytes | None],
    bases: Mapping[str, bytes | None],
    *,
    backup_dir: Path,
    durable: bool = True,
) -> list[Path]:
    """Write, replace and delete files as the plan says (`writes`: each changed path's new
    bytes, None to delete it); return the backups made.

    The manifest is written first with the hashes about to be written as `pending` (so an
    interrupted run still recognises its own files), then each file atomically, then the
    final manifest. A block's file must still hold `bases[path]` (what the plan was made
    from), else the sync is deferred rather than lose the user's newest text. Files are
    flushed and renamed, which a killed process cannot tear; only the manifest is fsynced
    (`durable`), since one fsync per rule would dominate a large apply and every file can be
    rewritten from the library. Every write goes through a descriptor of its folder.
    """
    folders = Folders(root)
    try:
        return _execute(plan, folders, writes, bases, backup_dir, durable)
    finally:
        folders.close()


def _execute(
    plan: Plan,
    folders: Folders,
    writes: Mapping[str, bytes | None],
    bases: Mapping[str, bytes | None],
    backup_dir: Path,
    durable: bool,
) -> list[Path]:
    root = folders.root
    top = folders.open("")
    assert top is not None
    changes = plan.changes
    own_root_files = {manifest_mod.MANIFEST} | {a.path for a in changes if "/" not in a.path}
    _sweep(folders, {a.path.rpartition("/")[0] for a in changes}, own_root_files)
    manifest_path = root / manifest_mod.MANIFEST
    written = plan.of(Kind.ADD, Kind.UPDATE)
    backups: list[Path] = []
    deleted: list[str] = []
    if written:
        pending = plan.current._replace(pending={a.path: a.sha256 for a in written})
        atomic_write(manifest_path, manifest_mod.dumps(pending), sync=durable, dir_fd=top)
    for action in changes:
        path = os.path.join(root, action.path)  # names it in errors; writes go through `fd`
        folder, _, name = action.path.rpartition("/")
        data = writes[action.path]
        fd = folders.open(folder, create=data is not None)
        if fd is None:
            continue  # a deletion in a folder that is gone: nothing left to delete
        if action.block and _current(name, fd) != bases.get(action.path):
            raise Deferred(f"{path}: changed while rulesync was updating its block; trying again")
        if action.backup and _exists(name, fd):
            backups.append(_backup(name, fd, backup_dir / folder))
        if data is not None:
            atomic_write(path, data, sync=False, dir_fd=fd)
            continue
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            pass  # gone already
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, path) from None
        deleted.append(action.path)
    if changes or plan.manifest_changed:
        atomic_write(manifest_path, manifest_mod.dumps(plan.manifest), sync=durable, dir_fd=top)
        if plan.current.legacy:
            _remove_legacy(folders)
        if durable:
            os.fsync(top)
    _prune(folders, deleted)
    return backups


def _remove_legacy(folders: Folders) -> None:
    """Delete what versions before targets kept in `.cursor`: the manifest in `.cursor/rules`
    (now moved) and the lock of a project outside git (now at its root)."""
    for path in (manifest_mod.LEGACY_MANIFEST, LEGACY_LOCK):
        folder, _, name = path.rpartition("/")
        try:
            fd = folders.open(folder, create=False)
        except OSError:
            continue  # a folder turned into something else: the plan's check reports it
        with contextlib.suppress(OSError):
            if fd is not None and stat.S_ISREG(os.lstat(name, dir_fd=fd).st_mode):
                os.unlink(name, dir_fd=fd)
