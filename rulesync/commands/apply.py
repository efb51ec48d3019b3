"""`rulesync apply`: one-shot sync of one project, then commit."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rulesync.commands._common import config, project_root, sync_project
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK
from rulesync.project import Fetching
from rulesync.report import (
    change_lines,
    conflict_hint,
    emit_json,
    inspected_report,
    managed_count,
    plan_lines,
    plan_report,
    print_warnings,
    summary,
)
from rulesync.sync import SyncResult, inspect

if TYPE_CHECKING:
    import argparse


def print_result(result: SyncResult) -> None:
    """Human lines for a finished sync (shared by init and phase)."""
    plan = result.plan
    print_warnings(result.warnings)
    conflicts = f"{len(plan.conflicts)} conflict(s) left as they are" if plan.conflicts else ""
    if not result.applied and not result.commit:
        if conflicts:
            print(f"not in sync: {result.tier}: {conflicts}")
            for line in plan_lines(plan):
                print(line)
        else:
            print(f"in sync: {result.tier} ({managed_count(plan)})")
    else:
        # The same count as the commit's subject: one change, counted once.
        print(f"{result.tier}: {result.change.counts()}" + (f", {conflicts}" if conflicts else ""))
        for line in change_lines(result.change):
            print(line)
        for line in plan_lines(plan._replace(actions=tuple(plan.conflicts))):
            print(line)
        for backup in result.backups:
            print(f"  saved your version to {backup}")
        if result.commit:
            print(f"committed {result.commit[:10]}")
        elif result.commit_note:
            print(result.commit_note)
    if plan.conflicts:
        print(conflict_hint(plan), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    root = project_root()
    cfg = config()
    if args.dry_run:
        project, plan = inspect(root, cfg, force=args.force)
        if args.json:
            emit_json(inspected_report(project, plan))
        else:
            print_warnings(project.output.warnings)
            conflicts = f", {len(plan.conflicts)} conflict(s)" if plan.conflicts else ""
            print(f"{project.tier}: {summary(plan)}{conflicts} (dry run, nothing written)")
            for line in plan_lines(plan):
                print(line)
        return EXIT_NOT_IN_SYNC if plan.conflicts else EXIT_OK
    fetching = Fetching(update=args.update, accept_rewrite=args.accept_rewrite)
    result = sync_project(
        root,
        cfg,
        verbose=args.verbose,
        force=args.force,
        no_commit=args.no_commit,
        fetching=fetching,
    )
    if args.json:
        emit_json(
            plan_report(
                result.phase,
                result.tier,
                result.targets,
                result.warnings,
                result.plan,
                applied=result.applied,
                commit=result.commit,
                commit_note=result.commit_note,
                backups=[str(b) for b in result.backups],
                change=result.change.doc(),
            )
        )
    else:
        print_result(result)
    return result.exit_code
