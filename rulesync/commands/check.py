"""`rulesync check`: exit 1 when any target's files or blocks are not exactly what `apply`
would produce."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rulesync.commands._common import config, project_root
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK
from rulesync.plan import Kind
from rulesync.report import (
    conflict_advice,
    emit_json,
    inspected_report,
    managed_count,
    manifest_reasons,
    plan_lines,
    print_warnings,
    summary,
    yours_doc,
    yours_lines,
)
from rulesync.sync import inspect

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    project, plan = inspect(project_root(), config())
    listing = args.list_yours or args.verbose
    if args.json:
        extra = {"yours": yours_doc(project)} if listing else {}
        emit_json(inspected_report(project, plan, manifest_reasons=manifest_reasons(plan), **extra))
        return EXIT_OK if plan.in_sync else EXIT_NOT_IN_SYNC
    print_warnings(project.output.warnings)
    if plan.in_sync:
        print(f"in sync: {project.tier} ({managed_count(plan)})")
    else:
        print(f"drift: {project.tier}: {summary(plan)}, {len(plan.conflicts)} conflict(s)")
        for line in plan_lines(plan):
            print(line)
        # Files adopted as they are leave only the manifest to write: say why; files handed
        # back are their own lines.
        releasing = plan.of(Kind.RELEASE)
        if plan.current.legacy or (not plan.changes and not plan.conflicts and not releasing):
            for reason in manifest_reasons(plan):
                print(f"  {reason}")
        if plan.conflicts:
            print(f"conflicts: {conflict_advice(plan)}")
        if plan.changes or plan.manifest_changed or not plan.conflicts:
            print("run `rulesync apply` to sync" + (" the rest" if plan.conflicts else ""))
    if listing:
        for line in yours_lines(yours_doc(project)):
            print(line)
    return EXIT_OK if plan.in_sync else EXIT_NOT_IN_SYNC
