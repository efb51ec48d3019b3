"""`rulesync import [PATH…] --into LIBRARY [--tier NAME]`: the repository's own rules made into
a library (a new one, or a new tier of an existing one), linted, and what was done printed."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK, InvalidInput, RulesyncError
from rulesync.existing import Skipped
from rulesync.importer import (
    Imported,
    drop_lint_errors,
    read_rules,
    sources,
    write_library,
)
from rulesync.library import _TIER_NAME
from rulesync.report import emit_json

DEFAULT_TIER = "basic"


class Outcome(NamedTuple):
    """What an import did: the library and tier, the rules written, the files left out."""

    root: Path
    library: Path
    tier: str
    imported: Imported
    errors: int
    warnings: int

    @property
    def exit_code(self) -> int:
        return EXIT_NOT_IN_SYNC if self.errors else EXIT_OK

    def doc(self) -> dict[str, Any]:
        return {
            "library": str(self.library),
            "tier": self.tier,
            "imported": [
                {"rule": r.name, "from": r.source, "tool": r.tool} for r in self.imported.rules
            ],
            "not_converted": [{"path": s.path, "reason": s.reason} for s in self.imported.skipped],
            "lint": {"errors": self.errors, "warnings": self.warnings},
        }


def repository_root(start: Path) -> Path:
    """The repository around `start` (its git top), or `start` outside git."""
    from rulesync.git import find_git

    git = find_git(start)
    return git.top if git is not None else start


def _managed(root: Path) -> frozenset[str]:
    """The paths rulesync manages at `root` (none when it has no readable manifest)."""
    from rulesync import manifest as manifest_mod

    try:
        return frozenset(manifest_mod.load(root).managed)
    except RulesyncError:
        return frozenset()


def import_rules(root: Path, paths: list[str], into: Path, tier: str) -> Outcome:
    """Read the rules under `paths` (every tool's folder when none) in the repository at
    `root`, write them as `tier` of the library `into`, and lint it. InvalidInput, before
    anything is written, when there is nothing to import or nowhere to put it."""
    from rulesync.lint import lint

    if not re.fullmatch(_TIER_NAME.pattern, tier):
        raise InvalidInput(f"--tier {tier}: a tier name is {_TIER_NAME.what}")
    where = sources(root, paths)
    if not where:
        raise InvalidInput(
            f"{root}: no rules folder found (.cursor/rules, .claude/rules, "
            ".github/instructions, .devin/rules, .windsurf/rules, .kiro/steering, .clinerules); "
            "name the folder to import"
        )
    imported = read_rules(root, where, _managed(root))
    if not imported.rules:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in imported.skipped[:3])
        raise InvalidInput(
            f"no rule to import under {', '.join(s.folder for s in where)}"
            + (f" ({reasons})" if reasons else "")
        )
    note = f"Imported by `rulesync import` from {', '.join(s.folder for s in where)}"
    write_library(into, tier, imported, note)
    imported = drop_lint_errors(into, tier, imported)
    findings = [f for report in lint(into).reports for f in report.findings]
    errors = sum(1 for f in findings if f.level == "error")
    return Outcome(root, into, tier, imported, errors, len(findings) - errors)


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _print(outcome: Outcome) -> None:
    rules = outcome.imported.rules
    per_tool: dict[str, int] = {}
    for rule in rules:
        per_tool[rule.tool] = per_tool.get(rule.tool, 0) + 1
    tools = ", ".join(f"{tool} {n}" for tool, n in per_tool.items())
    library = _shown(outcome.library, outcome.root)
    print(f"imported {len(rules)} rule(s) into {library} (tier {outcome.tier}): {tools}")
    skipped: tuple[Skipped, ...] = outcome.imported.skipped
    if skipped:
        print(f"not converted ({len(skipped)}):")
        for item in skipped:
            print(f"  {item.path}: {item.reason}")
    if outcome.errors:
        print(f"lint: {outcome.errors} error(s); `rulesync lint {library}` shows them")
    else:
        warned = f" ({outcome.warnings} warning(s): `rulesync lint {library}`)"
        print("lint: no errors" + (warned if outcome.warnings else ""))
    inside = not library.startswith("/")
    spec = library if inside else str(outcome.library)
    print(
        f"next: set `library: {spec}` and `phase: {outcome.tier}` in .rulesync.yaml, "
        "then `rulesync apply`"
        + (
            ""
            if inside
            else " (a library outside the repository: list it under `libraries:` "
            "in the rulesync config of each user, or move it inside the repository)"
        )
    )


def run(args: argparse.Namespace) -> int:
    root = repository_root(Path.cwd())
    into = Path(os.path.abspath(os.path.expanduser(args.into)))
    outcome = import_rules(root, list(args.paths), into, args.tier)
    if args.json:
        emit_json(outcome.doc())
    else:
        _print(outcome)
    return outcome.exit_code
