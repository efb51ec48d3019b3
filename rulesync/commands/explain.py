"""`rulesync explain [PATH] [--tier T]`: which rules attach to PATH and why, or, without a
path, what the tier (and every tier) loads into the model's context on every request."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rulesync.commands._common import config, project_root
from rulesync.errors import InvalidInput
from rulesync.explain import ATTACHED, How, always_on, explain_file, total_tokens
from rulesync.library import Library
from rulesync.marker import Marker, load_marker
from rulesync.mdc import RuleInfo, read_rule
from rulesync.project import choose_library, choose_tier, desired_rules
from rulesync.report import emit_json

ESTIMATE = "estimated tokens: ASCII characters / 4 + 1 per other character"


def _rules(
    marker: Marker, library: Library, tier: str
) -> tuple[dict[str, RuleInfo], dict[str, str]]:
    """The tier's rules as this project gets them (its `exclude` applied), and their origin."""
    desired = desired_rules(marker, library, tier)
    infos = {n: read_rule(r.data) for n, r in desired.items()}
    return infos, {n: r.tier for n, r in desired.items()}


def _relative(path: str, root: Path) -> str:
    """PATH relative to the project root, `/`-separated; refused when it leaves the project."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path(os.path.abspath(root)))
    except ValueError:
        raise InvalidInput(f"{path}: not inside the project {root}; name a file in it") from None
    if not relative.parts:
        raise InvalidInput(f"{path}: is the project itself; name a file in it")
    return relative.as_posix()


def _explain_path(
    path: str, tier: str, rules: dict[str, RuleInfo], origin: dict[str, str], json: bool
) -> None:
    verdicts = explain_file(rules, path)
    if json:
        emit_json(
            {
                "path": path,
                "tier": tier,
                "rules": [
                    {
                        "name": v.name,
                        "from": origin[v.name],
                        "attached": v.how in ATTACHED,
                        "how": v.how.value,
                        "glob": v.glob or None,
                        "why": v.why,
                    }
                    for v in verdicts
                ],
            }
        )
        return
    print(f"{path}: tier {tier}")
    headings = {
        How.ALWAYS: "attached",
        How.GLOB: "attached",
        How.REQUESTABLE: "requestable",
        How.MANUAL: "manual",
        How.NOT_ATTACHED: "not attached",
    }
    current = ""
    for verdict in verdicts:
        heading = headings[verdict.how]
        if heading != current:
            print(f"{heading}:")
            current = heading
        source = f"  [from {origin[verdict.name]}]" if origin[verdict.name] != tier else ""
        print(f"  {verdict.name:<32} {verdict.why}{source}")


def _budget(
    tier: str, library: Library, per_tier: dict[str, dict[str, RuleInfo]], json: bool
) -> None:
    every = {name: always_on(rules) for name, rules in per_tier.items()}
    costs = every[tier]
    budget = library.always_tokens_budget
    totals = {name: (total_tokens(c), sum(x.bytes for x in c)) for name, c in every.items()}
    if json:
        emit_json(
            {
                "tier": tier,
                "estimate": ESTIMATE,
                "budget_always_tokens": budget,
                "rules": [
                    {"name": c.name, "loads": c.loads, "bytes": c.bytes, "tokens": c.tokens}
                    for c in costs
                ],
                "total": {"bytes": sum(c.bytes for c in costs), "tokens": total_tokens(costs)},
                "tiers": [
                    {"name": name, "bytes": size, "tokens": tokens}
                    for name, (tokens, size) in totals.items()
                ],
            }
        )
        return
    print(f"tier {tier}: loaded on every request ({ESTIMATE})")
    print(f"  {'tokens':>7} {'bytes':>7}  rule")
    for cost in costs:
        print(f"  {cost.tokens:>7,} {cost.bytes:>7,}  {cost.name} ({cost.loads})")
    print(f"  {total_tokens(costs):>7,} {sum(c.bytes for c in costs):>7,}  total")
    print("every tier:")
    for name, (tokens, size) in totals.items():
        over = f"  over the budget of {budget:,}" if budget is not None and tokens > budget else ""
        mark = "  <- this project" if name == tier else ""
        print(f"  {name:<16} {tokens:>7,} tokens {size:>7,} bytes{over}{mark}")


def run(args: argparse.Namespace) -> int:
    root = project_root()
    marker = load_marker(root)
    library = choose_library(marker, config())
    if args.tier is None:
        tier = choose_tier(marker, library)[0]
    elif args.tier in library.tier_names:
        tier = args.tier
    else:
        raise InvalidInput(
            f"--tier {args.tier}: no such tier in library {library.label}; "
            f"valid: {', '.join(library.tier_names)}"
        )
    if args.path is not None:
        rules, origin = _rules(marker, library, tier)
        _explain_path(_relative(args.path, root), tier, rules, origin, args.json)
        return 0
    per_tier = {t: _rules(marker, library, t)[0] for t in library.tier_names}
    _budget(tier, library, per_tier, args.json)
    return 0
