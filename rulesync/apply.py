"""Carrying out a plan in `.cursor/rules`: atomic writes, deletions, backups, manifest last."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from rulesync import manifest as manifest_mod
from rulesync.fsutil import atomic_write, fsync_dir, sweep_temporaries
from rulesync.library import RuleFile
from rulesync.plan import Kind, Plan


def _backup(path: Path, backup_dir: Path) -> Path:
    backup_dir.mkdir(parents=True, exist_ok=True)
    target = backup_dir / path.name
    if os.path.islink(path):
        target = backup_dir / f"{path.name}.symlink.txt"
        target.write_text(os.readlink(path) + "\n", encoding="utf-8")
    else:
        shutil.copy2(path, target, follow_symlinks=False)
    return target


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
    apply and every rule can be rewritten from the library.
    """
    rules_dir.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(rules_dir)
    manifest_path = rules_dir / manifest_mod.MANIFEST
    writes = plan.of(Kind.ADD, Kind.UPDATE)
    backups: list[Path] = []
    if writes:
        pending = replace(plan.current, pending={a.name: a.sha256 for a in writes})
        atomic_write(manifest_path, manifest_mod.dumps(pending), sync=durable)
    for action in plan.changes:
        path = rules_dir / action.name
        if action.backup and os.path.lexists(path):
            backups.append(_backup(path, backup_dir))
        if action.kind is Kind.DELETE:
            if os.path.lexists(path):
                os.unlink(path)
        else:
            atomic_write(path, desired[action.name].data, sync=False)
    if plan.changes or plan.manifest_changed:
        atomic_write(manifest_path, manifest_mod.dumps(plan.manifest), sync=durable)
        if durable:
            fsync_dir(rules_dir)
    return backups
