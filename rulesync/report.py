"""Turning plans and results into text for people and JSON for tools."""

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rulesync import manifest as manifest_mod
from rulesync.config import Config
from rulesync.errors import RulesyncError, os_error_text
from rulesync.gitlog import ADOPTED, Change
from rulesync.gitlog import SIGNS as CHANGE_SIGNS
from rulesync.hidden import HIDDEN
from rulesync.plan import BROKEN, UNFORCEABLE, Action, Kind, Plan

if TYPE_CHECKING:
    from rulesync.library import Library
    from rulesync.marker import Marker
    from rulesync.project import Project

# Compiled when first used (`re` keeps it): only a JSON document needs it.
_JSON_HIDDEN = f"{HIDDEN.pattern}|[\ud800-\udfff]|\r"
SIGNS = {
    Kind.ADD: "+",
    Kind.UPDATE: "~",
    Kind.DELETE: "-",
    Kind.CONFLICT: "!",
    Kind.UNCHANGED: "=",
    Kind.ADOPT: "=",
    Kind.RELEASE: "=",
}


def json_escape_hidden(text: str) -> str:
    """JSON text with every invisible character and lone surrogate written as a JSON escape
    (`\\u200b`), so the document stays valid once printed (see `rulesync.terminal`)."""

    def escaped(match: re.Match[str]) -> str:
        data = match.group().encode("utf-16-le", "surrogatepass")
        units = [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]
        return "".join(f"\\u{unit:04x}" for unit in units)

    return re.sub(_JSON_HIDDEN, escaped, text)


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


def inspected_report(project: "Project", plan: Plan, **extra: Any) -> dict[str, Any]:
    """`plan_report` for a project read without syncing it (check, diff, apply --dry-run)."""
    return plan_report(
        project.marker.phase, project.tier, project.targets, project.output.warnings, plan, **extra
    )


def summary(plan: Plan) -> str:
    """`+2 ~1 -0` style counts (`, 3 to adopt` for files already as the library has them)."""
    counts = plan.counts()
    text = f"+{counts['add']} ~{counts['update']} -{counts['delete']}"
    text += f", {counts['adopt']} to adopt" if counts["adopt"] else ""
    return text + (f", {counts['release']} to hand back" if counts["release"] else "")


def change_lines(change: Change) -> list[str]:
    """One line per path a finished sync changed or adopted (what its commit lists)."""
    lines = []
    for entry in change.entries:
        # `=` alone would read as "unchanged": say it was taken over.
        note = entry.note or (
            "adopted: already as the library has it" if entry.code == ADOPTED else ""
        )
        lines.append(f"  {CHANGE_SIGNS[entry.code]} {entry.path}" + (f" ({note})" if note else ""))
    return lines


def plan_lines(plan: Plan) -> list[str]:
    """One line per file or block that changes or conflicts."""
    lines = []
    for action in plan.actions:
        if action.kind is Kind.UNCHANGED:
            continue
        text = f"  {SIGNS[action.kind]} {action.path}"
        if action.block:
            text += " (rulesync's block)"
        if action.kind is Kind.ADOPT:
            text += f" (adopt: {action.reason})"
        elif action.kind is Kind.RELEASE:
            text += f" ({action.reason})"
        elif action.kind is Kind.CONFLICT:
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
    """How to settle conflicts, each way one that works: for a file of the user's where the
    library has a rule, rename it, exclude the library's rule (which then leaves it alone), or
    take the library's; for what `--force` cannot settle, what the user must fix."""
    stuck = [a for a in plan.conflicts if a.reason.startswith(UNFORCEABLE)]
    forceable = [a for a in plan.conflicts if a not in stuck]
    ways: list[str] = []
    names = ", ".join(sorted({a.rule for a in forceable if a.rule}))
    if names:
        ways.append(
            f"rename yours, or keep yours with `exclude: [{names}]` in .rulesync.yaml (the "
            "library's rule is then left out and yours is left alone), or take the library's "
            f"with `{command} apply --force` (saves yours first)"
        )
    elif forceable:
        ways.append(f"take the library's with `{command} apply --force` (saves yours first)")
    for action in stuck:
        if action.reason.startswith(BROKEN):
            ways.append(
                f"fix the rulesync marker lines in {action.path} (one begin line, one end "
                "line), or delete rulesync's block with its marker lines: apply writes it again"
            )
        else:
            ways.append(f"move {action.path} out of the way (`--force` cannot replace it)")
    return f"`{command} diff` shows them; " + "; ".join(ways)


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


def yours_doc(project: "Project") -> dict[str, list[str]]:
    """Per tool, the repository's own rule files beside rulesync's (not managed, left alone)."""
    from rulesync.existing import scan, yours

    ours = set(project.manifest.managed) | set(project.output.files) | set(project.output.blocks)
    return yours(scan(project.root), ours)


def yours_lines(own: dict[str, list[str]]) -> list[str]:
    """`yours (not managed): …` then one line per tool naming its files."""
    if not own:
        return ["yours (not managed): none"]
    lines = ["yours (not managed, left as they are):"]
    lines += [f"  {tool} ({len(paths)}): {', '.join(paths)}" for tool, paths in own.items()]
    return lines


# One project at a glance: the model `projects list` and `fleet` both print.

IN_SYNC, DRIFT, CONFLICT, DEFERRED, FAILING, MISSING = (
    "in sync",
    "drift",
    "conflict",
    "deferred",
    "failing",
    "missing",
)


class ProjectLine:
    """One registered project as `projects list` shows it."""

    # In the order `projects --json` prints them.
    __slots__ = (
        "behind",
        "last_commit",
        "last_sync",
        "library",
        "library_newest",
        "library_revision",
        "next_tier",
        "path",
        "phase",
        "readiness",
        "ready",
        "source",
        "state",
        "tier",
        "why",
    )

    def __init__(self, path: str, state: str) -> None:
        self.path = path
        self.state = state
        self.why = ""
        self.phase: str | None = None
        self.tier: str | None = None
        self.library: str | None = None
        self.library_revision: str | None = None
        self.last_sync: str | None = None
        self.last_commit: dict[str, str] | None = None
        self.source = "computed"
        # The library's newest revision known here, and how many commits the pinned one is
        # behind it (None: not a git-served library, or unknown); the next tier and whether
        # the evidence meets its criteria (None: no tier above, or unknown).
        self.library_newest: str | None = None
        self.behind: int | None = None
        self.next_tier: str | None = None
        self.ready: bool | None = None
        # The same in words, from the evidence (`advanced: met, settling 3 of 14 days`).
        self.readiness: str | None = None

    def doc(self) -> dict[str, object]:
        """The line as plain JSON data."""
        return {name: getattr(self, name) for name in self.__slots__}


def last_commit(root: Path, cfg: Config) -> dict[str, str] | None:
    from rulesync.git import find_git, project_history

    git = find_git(root)
    if git is None:
        return None
    try:
        entries = project_history(root, git, cfg, limit=1)
    except RulesyncError:
        return None
    if not entries:
        return None
    return {"sha": entries[0].sha, "date": entries[0].date, "subject": entries[0].subject}


def recorded_revision(root: Path) -> tuple[str, str | None]:
    """The library and revision the manifest last recorded ("" when unreadable)."""
    try:
        recorded = manifest_mod.load(root)
    except (RulesyncError, OSError):
        return "", None
    return recorded.library, recorded.revision


def from_service(line: ProjectLine, record: dict[str, Any]) -> None:
    """State as the running service last recorded it."""
    line.source = "service"
    line.phase = record.get("phase")
    line.tier = record.get("tier")
    line.last_sync = record.get("last_sync")
    line.readiness = record.get("readiness")
    if record.get("error"):
        line.state, line.why = FAILING, str(record["error"])
    elif record.get("deferred"):
        line.state, line.why = DEFERRED, f"{record['deferred']}; the service retries"
    elif record.get("conflicts"):
        line.state, line.why = CONFLICT, "left as they are: " + ", ".join(record["conflicts"])
    elif line.last_sync is None:
        line.state, line.why = DRIFT, "the service has not synced it yet"
    else:
        line.state = IN_SYNC


def computed_line(line: ProjectLine, root: Path, cfg: Config, *, running: bool) -> None:
    """State computed now (no service record for it): what `status` would say."""
    from rulesync.git import busy_reason
    from rulesync.sync import inspect

    try:
        project, plan = inspect(root, cfg)
    except (RulesyncError, OSError) as exc:
        why = os_error_text(exc) if isinstance(exc, OSError) else str(exc)
        line.state, line.why = FAILING, why
        return
    line.phase, line.tier = project.marker.phase, project.tier
    line.library = project.library.label
    line.library_revision = project.library.revision or plan.current.revision or None
    readiness_of(line, project, cfg)
    if project.library.revision:
        from rulesync.remote import behind_by
        from rulesync.spec import parse_spec

        line.library_newest, line.behind = behind_by(
            parse_spec(project.library.label), project.library.revision
        )
    busy = busy_reason(project.git) if project.git is not None and project.marker.commit else None
    if plan.conflicts:
        names = ", ".join(a.path for a in plan.conflicts)
        line.state, line.why = CONFLICT, f"left as they are: {names}"
    elif plan.in_sync:
        line.state = IN_SYNC
    elif busy:
        line.state, line.why = DEFERRED, f"{busy}; run `rulesync apply` once that is done"
    else:
        line.state, line.why = (
            DRIFT,
            "run `rulesync apply`"
            + (" (the service has not synced it yet)" if running else " (no service is running)"),
        )


class Readiness(NamedTuple):
    """The next tier above the project's and whether the evidence meets its criteria (None:
    no tier above), with the words the service logs (`advanced: met, settling 3 of 14 days`)."""

    next_tier: str | None
    met: bool | None
    text: str


def readiness_summary(root: Path, config: Config) -> str:
    """The project's readiness in a few words, as the service logs its changes: the next
    tier's state (`advanced: met, settling 3 of 14 days`), and a demotion `phase: auto`
    waits for a person to make."""
    from rulesync.marker import load_marker
    from rulesync.project import choose_library

    marker = load_marker(root)
    library = choose_library(marker, config)
    return readiness(root, config, library, marker, manifest_mod.load(root).tier or None).text


def readiness(
    root: Path, config: Config, library: "Library", marker: "Marker", current: str | None
) -> Readiness:
    """The project's readiness from the evidence (`summary`'s words, and the next tier's
    name and verdict); `current`: the tier the manifest recorded."""
    from rulesync.evidence import max_settle_days, measure
    from rulesync.readiness import choose_auto, days_met, evaluate

    evidence = measure(root, library, marker, config, days=max_settle_days(library))
    names = library.tier_names
    would_demote = None
    if marker.phase == "auto":
        choice = choose_auto(library, evidence, current)
        tier, would_demote = choice.tier, choice.would_demote
    else:
        tier = marker.phase if marker.phase in names else (current or names[0])
    demote = f"; would demote to {would_demote}" if would_demote else ""
    if names.index(tier) + 1 >= len(names):
        return Readiness(None, None, f"{tier}: the highest tier{demote}")
    following = library.tier(names[names.index(tier) + 1])
    state = "not met"
    met = evaluate(following, evidence.values).met
    if met:
        met_for, need = days_met(following, evidence.series()), following.policy.settle_days
        state = f"met, settling {met_for} of {need} days" if met_for < need else "met"
    return Readiness(following.name, met, f"{following.name}: {state}{demote}")


def readiness_of(line: ProjectLine, project: "Project", cfg: Config) -> None:
    """The tier above the project's, and whether the evidence (the library's metric sources
    and the marker's pinned figures) meets its criteria."""
    try:
        found = readiness(project.root, cfg, project.library, project.marker, project.manifest.tier)
    except (RulesyncError, OSError):
        return
    line.next_tier, line.ready, line.readiness = found


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
