"""Turning plans and results into text for people and JSON for tools."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rulesync.plan import Action, Kind, Plan

if TYPE_CHECKING:
    from rulesync.project import Project

SIGNS = {Kind.ADD: "+", Kind.UPDATE: "~", Kind.DELETE: "-", Kind.CONFLICT: "!", Kind.UNCHANGED: "="}


def emit_json(doc: Any) -> None:
    """Print one JSON document."""
    json.dump(doc, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def action_doc(action: Action) -> dict[str, Any]:
    doc: dict[str, Any] = {"action": action.kind.value, "path": action.path}
    if action.block:
        doc["block"] = True
    if action.reason:
        doc["reason"] = action.reason
    if action.backup:
        doc["backup"] = True
    return doc


def plan_doc(plan: Plan) -> dict[str, Any]:
    """The plan as plain data."""
    return {
        "in_sync": plan.in_sync,
        "counts": plan.counts(),
        "manifest_changed": plan.manifest_changed,
        "actions": [action_doc(a) for a in plan.actions if a.kind is not Kind.UNCHANGED],
    }


def plan_report(
    phase: str,
    tier: str,
    targets: Sequence[str],
    warnings: Sequence[str],
    plan: Plan,
    **extra: Any,
) -> dict[str, Any]:
    """The JSON document of `apply`, `apply --dry-run`, `check` and `diff`: what was read,
    the command's own fields (`extra`), then the plan."""
    return {
        "phase": phase,
        "tier": tier,
        "targets": list(targets),
        "warnings": list(warnings),
        **extra,
        **plan_doc(plan),
    }


def inspected_report(project: Project, plan: Plan, **extra: Any) -> dict[str, Any]:
    """`plan_report` for a project read without syncing it (check, diff, apply --dry-run)."""
    return plan_report(
        project.marker.phase, project.tier, project.targets, project.output.warnings, plan, **extra
    )


def summary(plan: Plan) -> str:
    """`+2 ~1 -0` style counts."""
    counts = plan.counts()
    return f"+{counts['add']} ~{counts['update']} -{counts['delete']}"


def plan_lines(plan: Plan) -> list[str]:
    """One line per file or block that changes or conflicts."""
    lines = []
    for action in plan.actions:
        if action.kind is Kind.UNCHANGED:
            continue
        text = f"  {SIGNS[action.kind]} {action.path}"
        if action.block:
            text += " (rulesync's block)"
        if action.kind is Kind.CONFLICT:
            text += f": {action.reason}"
        elif action.backup:
            # `--force`, or a managed file whose bytes the library never provided: either way
            # apply saves the file before replacing or deleting it.
            text += f" (saved first: {action.reason})"
        lines.append(text)
    return lines


def count_fields(plan: Plan) -> dict[str, int]:
    """The plan's counts under the keys every `sync.*` log event uses (CLI and service)."""
    counts = plan.counts()
    return {
        "added": counts["add"],
        "updated": counts["update"],
        "deleted": counts["delete"],
        "unchanged": counts["unchanged"],
        "conflicts": counts["conflict"],
    }


def conflict_advice(plan: Plan, command: str = "rulesync") -> str:
    """How to settle conflicts: see them, keep yours, or take the library's."""
    names = ", ".join(sorted({a.rule for a in plan.conflicts if a.rule}))
    keep = f"keep your version with `exclude: [{names}]` in .rulesync.yaml, or " if names else ""
    return (
        f"`{command} diff` shows them; {keep}take the library's with `{command} apply --force` "
        "(saves yours first)"
    )


def managed_count(plan: Plan) -> str:
    """`12 files, 1 block` for the in-sync line."""
    files, blocks = len(plan.manifest.files), len(plan.manifest.blocks)
    text = f"{files} file{'s' if files != 1 else ''}"
    return text + (f", {blocks} block{'s' if blocks != 1 else ''}" if blocks else "")


def print_warnings(warnings: Sequence[str]) -> None:
    """A target's warnings (a tool's size limit exceeded), one line each on stderr."""
    for warning in warnings:
        print(f"rulesync: warning: {warning}", file=sys.stderr)


def conflict_hint(plan: Plan) -> str:
    """What to do about conflicts, in one line."""
    return f"rulesync: {len(plan.conflicts)} conflict(s) left as they are; {conflict_advice(plan)}"


def manifest_reasons(plan: Plan) -> list[str]:
    """Why the manifest is out of date, one sentence each (none when apply would keep it): what
    it records against what apply would record."""
    from rulesync import manifest as manifest_mod

    old, new = plan.current, plan.manifest
    if old.legacy:
        return [
            f"the manifest is still at {manifest_mod.LEGACY_MANIFEST}, where versions before "
            f"targets kept it; apply moves it to {manifest_mod.MANIFEST}"
        ]
    if old == manifest_mod.EMPTY:
        return [
            f"the manifest {manifest_mod.MANIFEST} is missing (the rule files on disk already "
            "match); apply records them in a new one"
        ]
    reasons = []
    if old.library != new.library:
        reasons.append(
            f"the manifest records library `{old.library}`; the project uses `{new.library}`"
        )
    if old.tier != new.tier:
        reasons.append(f"the manifest records tier `{old.tier}`; the phase gives `{new.tier}`")
    if old.targets != new.targets:
        reasons.append(
            f"the manifest records targets {', '.join(old.targets) or 'none'}; the project has "
            f"{', '.join(new.targets)}"
        )
    for kind, before, after in (("file", old.files, new.files), ("block", old.blocks, new.blocks)):
        stale = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
        if stale:
            more = f" and {len(stale) - 5} more" if len(stale) > 5 else ""
            reasons.append(
                f"the manifest's record of these {kind}s is stale (on disk they already hold "
                f"what apply writes): {', '.join(stale[:5])}{more}"
            )
    if old.pending:
        reasons.append(
            "the manifest holds the hashes of an apply that stopped part way; apply finishes it"
        )
    return reasons
