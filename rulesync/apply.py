"""Carrying out a plan in the project: atomic writes, deletions, backups, manifest last."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from rulesync import manifest as manifest_mod
from rulesync.errors import Deferred
from rulesync.fsutil import TMP_MARK, atomic_write, fsync_dir, sweep_temporaries
from rulesync.plan import Kind, Plan
from rulesync.targets import owner


def _backup(root: Path, relpath: str, backup_dir: Path) -> Path:
    path = root / relpath
    target = backup_dir / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.islink(path):
        target = target.with_name(f"{target.name}.symlink.txt")
        target.write_text(os.readlink(path) + "\n", encoding="utf-8")
    else:
        shutil.copy2(path, target, follow_symlinks=False)
    return target


def _current(path: Path) -> bytes | None:
    """A file's bytes as rulesync reads them (None: absent, a symlink or not a file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _sweep(root: Path, folders: set[str], root_names: set[str]) -> None:
    """Remove temporaries a killed run left: in a target's folder all of rulesync's, at the
    root only those of rulesync's own files (the marker is written there by other commands)."""
    for folder in folders - {""}:
        sweep_temporaries(root / folder)
    for name in os.listdir(root):
        if any(name.startswith(f".{own}{TMP_MARK}") for own in root_names):
            with contextlib.suppress(OSError):
                os.unlink(root / name)


def _prune(root: Path, relpath: str) -> None:
    """Remove the folders a deletion left empty, inside what the path's target owns."""
    target = owner(relpath)
    folder = relpath.rpartition("/")[0]
    while folder and target is not None and target.claims(f"{folder}/"):
        try:
            os.rmdir(root / folder)
        except OSError:
            return
        folder = folder.rpartition("/")[0]


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
    rewritten from the library.
    """
    manifest_path = root / manifest_mod.MANIFEST
    changes = plan.changes
    folders = {a.path.rpartition("/")[0] for a in changes}
    _sweep(root, folders, {manifest_mod.MANIFEST} | {a.path for a in changes if "/" not in a.path})
    written = plan.of(Kind.ADD, Kind.UPDATE)
    backups: list[Path] = []
    if written:
        pending = replace(plan.current, pending={a.path: a.sha256 for a in written})
        atomic_write(manifest_path, manifest_mod.dumps(pending), sync=durable)
    for action in changes:
        path = root / action.path
        if action.block and _current(path) != bases.get(action.path):
            raise Deferred(f"{path}: changed while rulesync was updating its block; trying again")
        if action.backup and os.path.lexists(path):
            backups.append(_backup(root, action.path, backup_dir))
        data = writes[action.path]
        if data is None:
            if os.path.lexists(path):
                os.unlink(path)
            _prune(root, action.path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data, sync=False)
    if changes or plan.manifest_changed:
        atomic_write(manifest_path, manifest_mod.dumps(plan.manifest), sync=durable)
        if plan.current.legacy:
            legacy = root / manifest_mod.LEGACY_MANIFEST
            if legacy.is_file() and not legacy.is_symlink():
                legacy.unlink()
        if durable:
            fsync_dir(root)
    return backups
