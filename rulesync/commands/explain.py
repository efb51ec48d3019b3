"""`rulesync explain [PATH] [--tier T] [--target NAME]`: which rules attach to PATH and why, or,
without a path, what the tier (and every tier) loads into the model's context on every
request; for each enabled target, as that target brings the rules to its assistant."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rulesync.commands._common import config, project_root
from rulesync.errors import EXIT_OK, InvalidInput
from rulesync.explain import (
    ATTACHED,
    Attachment,
    Cost,
    always_on,
    cost,
    explain_file,
    total_tokens,
)
from rulesync.library import Library
from rulesync.marker import Marker, load_marker
from rulesync.mdc import RuleInfo
from rulesync.project import choose_library, choose_tier, desired_rules, enabled_targets
from rulesync.report import emit_json
from rulesync.suggest import did_you_mean
from rulesync.targets import SourceRule, Target, get, render

ESTIMATE = "estimated tokens: ASCII characters / 4 + 1 per other character"


def _rules(
    marker: Marker, library: Library, tier: str
) -> tuple[dict[str, RuleInfo], dict[str, str], list[SourceRule]]:
    """The tier's rules as this project gets them (its `exclude` applied), their origin, and
    the rules as the targets render them."""
    desired = desired_rules(marker, library, tier)
    sources = [SourceRule(n, r.data) for n, r in desired.items()]
    # Each rule's front matter is read once, here, and kept by its SourceRule for rendering.
    infos = {s.path: s.info for s in sources}
    return infos, {n: r.tier for n, r in desired.items()}, sources


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


def _verdict_json(verdicts: list[Attachment], origin: dict[str, str]) -> list[dict[str, object]]:
    return [
        {
            "name": v.name,
            "from": origin[v.name],
            "attached": v.how in ATTACHED,
            "how": v.how.value,
            "glob": v.glob or None,
            "why": v.why,
        }
        for v in verdicts
    ]


def _explain_path(
    path: str,
    tier: str,
    rules: dict[str, RuleInfo],
    origin: dict[str, str],
    targets: list[Target],
    json: bool,
) -> None:
    every = {t.name: explain_file(rules, path, t.attach) for t in targets}
    first = targets[0].name
    if json:
        # The first target's verdicts at the top level (the only ones when Cursor is the one
        # target), every target's under `targets`.
        emit_json(
            {
                "path": path,
                "tier": tier,
                "target": first,
                "rules": _verdict_json(every[first], origin),
                "targets": [
                    {"name": name, "rules": _verdict_json(verdicts, origin)}
                    for name, verdicts in every.items()
                ],
            }
        )
        return
    print(f"{path}: tier {tier}")
    for name, verdicts in every.items():
        indent = _heading(name, targets)
        current = ""
        for verdict in verdicts:
            # Always and glob-matched rules are both in the context: one heading.
            heading = "attached" if verdict.how in ATTACHED else verdict.how.value
            if heading != current:
                print(f"{indent}{heading}:")
                current = heading
            source = f"  [from {origin[verdict.name]}]" if origin[verdict.name] != tier else ""
            print(f"{indent}  {verdict.name:<32} {verdict.why}{source}")


def _heading(name: str, targets: list[Target]) -> str:
    """Print the target's heading unless Cursor is the only target (the output Cursor users
    always had); the indent of the lines under it."""
    if [t.name for t in targets] == ["cursor"]:
        return ""
    print(f"target {name}:")
    return "  "


def _costs(
    target: Target, rules: dict[str, RuleInfo], sources: list[SourceRule], enabled: list[Target]
) -> list[Cost]:
    """What `target`'s assistant loads on every request: the files or blocks it reads whole,
    as rendered beside the other enabled targets, else the rules its `attach` loads."""
    if not target.loaded_whole:
        full_text = target.full_text
        texts = {s.path: full_text(s) for s in sources} if full_text is not None else None
        return always_on(rules, target.attach, texts)
    rendered = render(target, enabled, sources)
    output = {**rendered.files, **rendered.blocks}
    costs = [
        cost(path, "whole", output[path].decode("utf-8", errors="replace"))
        for path in target.loaded_whole
        if path in output
    ]
    return sorted(costs, key=lambda c: (-c.tokens, c.name))


def _budget(
    tier: str,
    library: Library,
    per_tier: dict[str, tuple[dict[str, RuleInfo], list[SourceRule]]],
    targets: list[Target],
    enabled: list[Target],
    json: bool,
) -> None:
    budget = library.always_tokens_budget
    reports = []
    for target in targets:
        every = {
            name: _costs(target, rules, sources, enabled)
            for name, (rules, sources) in per_tier.items()
        }
        costs = every[tier]
        totals = {name: (total_tokens(c), sum(x.bytes for x in c)) for name, c in every.items()}
        reports.append(
            {
                "name": target.name,
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
        if json:
            continue
        indent = _heading(target.name, targets)
        print(f"{indent}tier {tier}: loaded on every request ({ESTIMATE})")
        print(f"{indent}  {'tokens':>7} {'bytes':>7}  rule")
        for c in costs:
            print(f"{indent}  {c.tokens:>7,} {c.bytes:>7,}  {c.name} ({c.loads})")
        print(f"{indent}  {total_tokens(costs):>7,} {sum(c.bytes for c in costs):>7,}  total")
        print(f"{indent}every tier:")
        for name, (tokens, size) in totals.items():
            over = (
                f"  over the budget of {budget:,}" if budget is not None and tokens > budget else ""
            )
            mark = "  <- this project" if name == tier else ""
            print(f"{indent}  {name:<16} {tokens:>7,} tokens {size:>7,} bytes{over}{mark}")
    if json:
        first = reports[0]
        # The first target's budget at the top level, every target's under `targets`.
        emit_json(
            {
                "tier": tier,
                "estimate": ESTIMATE,
                "budget_always_tokens": budget,
                "target": first["name"],
                "rules": first["rules"],
                "total": first["total"],
                "tiers": first["tiers"],
                "targets": reports,
            }
        )


def run(args: argparse.Namespace) -> int:
    root = project_root()
    marker = load_marker(root)
    settings = config()
    library = choose_library(marker, settings)
    enabled = [get(name) for name in enabled_targets(marker, settings)]
    if args.target is None:
        targets = enabled
    else:
        try:
            targets = [get(args.target)]
        except InvalidInput as error:
            raise InvalidInput(f"--target {args.target}: {error}") from None
        if targets[0] not in enabled:
            enabled = [*enabled, targets[0]]
    if args.tier is None:
        tier = choose_tier(marker, library)[0]
    elif args.tier in library.tier_names:
        tier = args.tier
    else:
        raise InvalidInput(
            f"--tier {args.tier}: no such tier in library {library.label}"
            f"{did_you_mean(args.tier, library.tier_names)}; "
            f"valid: {', '.join(library.tier_names)}"
        )
    if args.path is not None:
        rules, origin, _ = _rules(marker, library, tier)
        _explain_path(_relative(args.path, root), tier, rules, origin, targets, args.json)
        return EXIT_OK
    per_tier = {}
    for name in library.tier_names:
        rules, _, sources = _rules(marker, library, name)
        per_tier[name] = (rules, sources)
    _budget(tier, library, per_tier, targets, enabled, args.json)
    return EXIT_OK
