"""`rulesync diff`: a unified diff of what `apply` would change."""

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
    rules = ".cursor/rules"
    for action in plan.actions:
        if action.kind is Kind.UNCHANGED:
            continue
        path = project.rules_dir / action.name
        have = project.disk.get(action.name)
        if have is None:
            old: list[str] = []
        elif have == SYMLINK:
            old = ["(a symlink; its target is not read)\n"]
        else:
            old = _text(read_regular(path, limit=MAX_RULE_BYTES, follow=False))
        new = _text(project.desired[action.name].data) if action.name in project.desired else []
        before = f"a/{rules}/{action.name}" if have is not None else "/dev/null"
        after = f"b/{rules}/{action.name}" if action.name in project.desired else "/dev/null"
        if action.backup:
            sys.stdout.write(
                f"# {rules}/{action.name}: {action.reason} (apply --force replaces it)\n"
            )
        sys.stdout.writelines(difflib.unified_diff(old, new, before, after))
    return 0 if plan.in_sync else 1
