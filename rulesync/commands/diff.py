"""`rulesync diff`: a unified diff of what `apply` would change."""

from __future__ import annotations

import argparse
import difflib
import sys
from typing import Any

from rulesync.commands._common import config, project_root
from rulesync.fsutil import read_regular
from rulesync.library import MAX_RULE_BYTES
from rulesync.plan import SYMLINK, Kind
from rulesync.project import Project
from rulesync.report import emit_json, plan_doc
from rulesync.sync import inspect

RULES = ".cursor/rules"


def _text(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _file_diff(project: Project, name: str) -> list[str]:
    path = project.rules_dir / name
    have = project.disk.get(name)
    if have is None:
        old: list[str] = []
    elif have == SYMLINK:
        old = ["(a symlink; its target is not read)\n"]
    else:
        old = _text(read_regular(path, limit=MAX_RULE_BYTES, follow=False))
    wanted = project.desired.get(name)
    new = _text(wanted.data) if wanted is not None else []
    before = f"a/{RULES}/{name}" if have is not None else "/dev/null"
    after = f"b/{RULES}/{name}" if wanted is not None else "/dev/null"
    return list(difflib.unified_diff(old, new, before, after))


def run(args: argparse.Namespace) -> int:
    project, plan = inspect(project_root(), config(), force=True)
    files: list[dict[str, Any]] = []
    for action in plan.actions:
        if action.kind is Kind.UNCHANGED:
            continue
        note = f"{action.reason} (apply --force replaces it)" if action.backup else ""
        files.append(
            {
                "path": f"{RULES}/{action.name}",
                "action": action.kind.value,
                "note": note,
                "diff": "".join(_file_diff(project, action.name)),
            }
        )
    if args.json:
        emit_json(
            {
                "phase": project.marker.phase,
                "tier": project.tier,
                **plan_doc(plan),
                "files": files,
            }
        )
    else:
        for entry in files:
            if entry["note"]:
                sys.stdout.write(f"# {entry['path']}: {entry['note']}\n")
            sys.stdout.write(entry["diff"])
    return 0 if plan.in_sync else 1
