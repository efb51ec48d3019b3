"""Turning plans and results into text for people and JSON for tools."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rulesync.hidden import HIDDEN
from rulesync.plan import Action, Kind, Plan

if TYPE_CHECKING:
    from rulesync.project import Project

_JSON_HIDDEN = re.compile(f"{HIDDEN.pattern}|[\ud800-\udfff]|\r")
SIGNS = {Kind.ADD: "+", Kind.UPDATE: "~", Kind.DELETE: "-", Kind.CONFLICT: "!", Kind.UNCHANGED: "="}


def json_escape_hidden(text: str) -> str:
    """JSON text with every invisible character and lone surrogate written as a JSON escape
    (`\\u200b`), so the document stays valid once printed (see `rulesync.terminal`)."""

    def escaped(match: re.Match[str]) -> str:
        data = match.group().encode("utf-16-le", "surrogatepass")
        units = [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]
        return "".join(f"\\u{unit:04x}" for unit in units)

    return _JSON_HIDDEN.sub(escaped, text)


def emit_json(doc: Any) -> None:
    """Print one JSON document."""
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(json_escape_hidden(text) + "\n")


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
