"""`rulesync diff`: a unified diff of what `apply` would change, over every target."""

from __future__ import annotations

import argparse
import difflib
import sys

from rulesync.commands._common import config, project_root
from rulesync.fsutil import read_regular
from rulesync.library import MAX_RULE_BYTES
from rulesync.plan import SYMLINK, Kind
from rulesync.sync import inspect


def _text(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def run(args: argparse.Namespace) -> int:
    project, plan = inspect(project_root(), config(), force=True)
    for action in plan.actions:
        if action.kind is Kind.UNCHANGED:
            continue
        path = action.path
        if action.kind is Kind.CONFLICT:
            sys.stdout.write(f"# {path}: {action.reason} (apply --force cannot replace it)\n")
            continue
        have = project.disk.get(path)
        present = path in project.bases if action.block else have is not None
        if have == SYMLINK:
            old = ["(a symlink; its target is not read)\n"]
        elif action.block:
            old = _text(project.bases.get(path) or b"")
        elif present:
            old = _text(read_regular(project.root / path, limit=MAX_RULE_BYTES, follow=False))
        else:
            old = []
        data = project.written(action)
        new = _text(data) if data is not None else []
        before = f"a/{path}" if present or have == SYMLINK else "/dev/null"
        after = f"b/{path}" if data is not None else "/dev/null"
        if action.backup:
            sys.stdout.write(f"# {path}: {action.reason} (apply --force replaces it)\n")
        sys.stdout.writelines(difflib.unified_diff(old, new, before, after))
    return 0 if plan.in_sync else 1
