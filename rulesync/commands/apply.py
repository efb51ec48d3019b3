"""`rulesync apply`: one-shot sync of one project, then commit."""

from __future__ import annotations

import argparse
import sys

from rulesync.commands._common import config, project_root
from rulesync.project import Fetching
from rulesync.report import (
    conflict_hint,
    emit_json,
    managed_count,
    plan_doc,
    plan_lines,
    print_warnings,
    summary,
)
from rulesync.sync import SyncResult, inspect, sync


def print_result(result: SyncResult) -> None:
    """Human lines for a finished sync (shared by init and phase)."""
    plan = result.plan
    print_warnings(result.warnings)
    if not result.applied and not result.commit:
        print(f"in sync: {result.tier} ({managed_count(plan)})")
    else:
        print(f"{result.tier}: {summary(plan)}")
        for line in plan_lines(plan):
            print(line)
        for backup in result.backups:
            print(f"  saved your version to {backup}")
        if result.commit:
            print(f"committed {result.commit[:10]}")
        elif result.commit_note:
            print(result.commit_note)
    if plan.conflicts:
        if not result.applied:
            for line in plan_lines(plan):
                print(line)
        print(conflict_hint(plan), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    root = project_root()
    cfg = config()
    if args.dry_run:
        project, plan = inspect(root, cfg, force=args.force)
        if args.json:
            emit_json(
                {
                    "phase": project.marker.phase,
                    "tier": project.tier,
                    "targets": list(project.targets),
                    **plan_doc(plan),
                }
            )
        else:
            print_warnings(project.output.warnings)
            print(f"{project.tier}: {summary(plan)} (dry run, nothing written)")
            for line in plan_lines(plan):
                print(line)
        return 1 if plan.conflicts else 0
    fetching = Fetching(update=args.update, accept_rewrite=args.accept_rewrite)
    result = sync(root, cfg, force=args.force, no_commit=args.no_commit, fetching=fetching)
    if args.verbose:
        from rulesync.logs import get_logger

        get_logger(project=str(root)).info(
            "sync.applied" if result.applied else "sync.noop",
            phase=result.phase,
            tier=result.tier,
            **result.plan.counts(),
            commit=result.commit,
            duration_ms=round(result.seconds * 1000, 1),
        )
    if args.json:
        emit_json(
            {
                "phase": result.phase,
                "tier": result.tier,
                "targets": list(result.targets),
                "warnings": list(result.warnings),
                "applied": result.applied,
                "commit": result.commit,
                "commit_note": result.commit_note,
                "backups": [str(b) for b in result.backups],
                **plan_doc(result.plan),
            }
        )
    else:
        print_result(result)
    return result.exit_code
