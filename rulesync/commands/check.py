"""`rulesync check`: exit 1 when any target's files or blocks are not exactly what `apply`
would produce."""

from __future__ import annotations

import argparse

from rulesync.commands._common import config, project_root
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK
from rulesync.report import (
    conflict_advice,
    emit_json,
    inspected_report,
    managed_count,
    manifest_reasons,
    plan_lines,
    print_warnings,
    summary,
)
from rulesync.sync import inspect


def run(args: argparse.Namespace) -> int:
    project, plan = inspect(project_root(), config(), pin=True)
    if args.json:
        emit_json(inspected_report(project, plan, manifest_reasons=manifest_reasons(plan)))
        return EXIT_OK if plan.in_sync else EXIT_NOT_IN_SYNC
    print_warnings(project.output.warnings)
    if plan.in_sync:
        print(f"in sync: {project.tier} ({managed_count(plan)})")
    else:
        print(f"drift: {project.tier}: {summary(plan)}, {len(plan.conflicts)} conflict(s)")
        for line in plan_lines(plan):
            print(line)
        if plan.current.legacy or (not plan.changes and not plan.conflicts):
            for reason in manifest_reasons(plan):
                print(f"  {reason}")
        if plan.conflicts:
            print(f"conflicts: {conflict_advice(plan)}")
        if plan.changes or plan.manifest_changed or not plan.conflicts:
            print("run `rulesync apply` to sync" + (" the rest" if plan.conflicts else ""))
    return EXIT_OK if plan.in_sync else EXIT_NOT_IN_SYNC
