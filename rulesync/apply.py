"""Carrying out a plan in `.cursor/rules`: atomic writes, deletions, backups, manifest last."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import replace
from pathlib import Path

from rulesync import manifest as manifest_mod
from rulesync.errors import InvalidInput
from rulesync.fsutil import atomic_write, open_folder, sweep_temporaries
from rulesync.library import RuleFile
from rulesync.plan import Kind, Plan

# `.cursor/rules` below the project root: the rules folder is opened from the root down.
_RULES_DEPTH = 2


def _backup(name: str, dir_fd: int, backup_dir: Path) -> Path:
    """Copy the file `name` of the open rules folder into `backup_dir` (a symlink as its target
    text), never reading through a link."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    target = backup_dir / name
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        # A symlink: its target's text is what the user had there.
        target = backup_dir / f"{name}.symlink.txt"
        atomic_write(target, (os.readlink(name, dir_fd=dir_fd) + "\n").encode(), sync=False)
        return target
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise InvalidInput(f"{backup_dir}: {name} is not a regular file; nothing was saved")
        atomic_write(target, handle.read(), sync=False)
    return target


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def execute(
    plan: Plan,
    rules_dir: Path,
    desired: dict[str, RuleFile],
    *,
    backup_dir: Path,
    durable: bool = True,
) -> list[Path]:
    """Write, replace and delete files as the plan says; return the backups made.

    The manifest is written first with the hashes about to be written as `pending` (so an
    interrupted run still recognises its own files), then each file atomically, then the
    final manifest. Rule files are flushed and renamed, which a killed process cannot tear;
    only the manifest is fsynced (`durable`), since one fsync per rule would dominate a large
    apply and every rule can be rewritten from the library. Every write goes through one
    descriptor of the rules folder, opened without following links, so replacing the folder
    by a symlink while this runs cannot send a write elsewhere.
    """
    root = rules_dir.parents[_RULES_DEPTH - 1]
    folder = open_folder(root, rules_dir, create=True)
    try:
        return _execute(plan, rules_dir, folder, desired, backup_dir, durable)
    finally:
        os.close(folder)


def _execute(
    plan: Plan,
    rules_dir: Path,
    folder: int,
    desired: dict[str, RuleFile],
    backup_dir: Path,
    durable: bool,
) -> list[Path]:
    sweep_temporaries(folder)
    manifest_path = rules_dir / manifest_mod.MANIFEST
    writes = plan.of(Kind.ADD, Kind.UPDATE)
    backups: list[Path] = []
    if writes:
        pending = replace(plan.current, pending={a.name: a.sha256 for a in writes})
        atomic_write(manifest_path, manifest_mod.dumps(pending), sync=durable, dir_fd=folder)
    for action in plan.changes:
        if action.backup and _exists(action.name, folder):
            backups.append(_backup(action.name, folder, backup_dir))
        if action.kind is Kind.DELETE:
            if _exists(action.name, folder):
                try:
                    os.unlink(action.name, dir_fd=folder)
                except OSError as exc:
                    raise type(exc)(exc.errno, exc.strerror, str(rules_dir / action.name)) from None
        else:
            path = rules_dir / action.name
            atomic_write(path, desired[action.name].data, sync=False, dir_fd=folder)
    if plan.changes or plan.manifest_changed:
        atomic_write(manifest_path, manifest_mod.dumps(plan.manifest), sync=durable, dir_fd=folder)
        if durable:
            os.fsync(folder)
    return backups
