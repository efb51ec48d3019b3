"""`rulesync diff`: a unified diff of what `apply` would change, over every target."""

from __future__ import annotations

import argparse
import difflib
import sys
from typing import Any

from rulesync.commands._common import config, project_root
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK
from rulesync.fsutil import read_under
from rulesync.library import MAX_RULE_BYTES
from rulesync.plan import SYMLINK, Action, Kind
from rulesync.project import Project
from rulesync.report import emit_json, inspected_report, manifest_reasons
from rulesync.sync import inspect


def _text(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _file_diff(project: Project, action: Action) -> list[str]:
    """The unified diff of the whole file `action` changes (a block's file with the block)."""
    path = action.path
    have = project.disk.get(path)
    present = path in project.bases if action.block else have is not None
    if have == SYMLINK:
        old = ["(a symlink; its target is not read)\n"]
    elif action.block:
        old = _text(project.bases.get(path) or b"")
    elif present:
        old = _text(read_under(project.root, path, limit=MAX_RULE_BYTES))
    else:
        old = []
    data = project.written(action)
    new = _text(data) if data is not None else []
    before = f"a/{path}" if present or have == SYMLINK else "/dev/null"
    after = f"b/{path}" if data is not None else "/dev/null"
    return list(difflib.unified_diff(old, new, before, after))


def run(args: argparse.Namespace) -> int:
    project, plan = inspect(project_root(), config(), force=True)
    # What apply does without --force, to say which steps need it.
    unforced = {a.path: a for a in project.plan().actions}
    files: list[dict[str, Any]] = []
    for action in plan.actions:
        if action.kind in (Kind.UNCHANGED, Kind.ADOPT):
            continue
        alone = unforced.get(action.path, action)
        if alone.kind is Kind.RELEASE:
            action = alone
            note = f"{alone.reason} (apply --force would delete it, saving yours first)"
            diff: list[str] = []
        elif action.kind is Kind.CONFLICT:
            # Even --force leaves it (a folder in a rule's place, broken block markers).
            note, diff = f"{action.reason} (apply --force cannot replace it)", []
        else:
            verb = "deletes" if action.kind is Kind.DELETE else "replaces"
            how = "apply" if alone.kind is action.kind else "apply --force"
            note = f"{action.reason} ({how} {verb} it, saving yours first)" if action.backup else ""
            diff = _file_diff(project, action)
        files.append(
            {"path": action.path, "action": action.kind.value, "note": note, "diff": "".join(diff)}
        )
    # Only the manifest is out of date: no file differs, so say what does.
    reasons = manifest_reasons(plan) if not files else []
    if args.json:
        emit_json(inspected_report(project, plan, files=files, manifest_reasons=reasons))
    else:
        for entry in files:
            if entry["note"]:
                sys.stdout.write(f"# {entry['path']}: {entry['note']}\n")
            sys.stdout.write(entry["diff"])
        for reason in reasons:
            sys.stdout.write(f"# {reason}\n")
        if reasons:
            sys.stdout.write(
                "# no rule file differs; `rulesync apply` brings the manifest up to date\n"
            )
    return EXIT_OK if plan.in_sync else EXIT_NOT_IN_SYNC
