"""`rulesync explain [PATH] [--tier T] [--target NAME]`: which rules reach each assistant when
working on PATH and why, or, without a path, what each assistant loads on every request.

The answer is the reading model's (`rulesync.reading`): each assistant reading the project's
files as apply would leave them (every enabled target's, planned together, and the
project's own), in its own glob dialect. Without `--target`, every enabled assistant and,
when AGENTS.md is written, every assistant that reads only AGENTS.md; with `--target X`,
X's assistant alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from rulesync import manifest as manifest_mod
from rulesync import reading
from rulesync.commands._common import config, project_root
from rulesync.errors import EXIT_OK, InvalidInput, RulesyncError
from rulesync.explain import ATTACHED, Attachment, Cost, total_tokens
from rulesync.globs import Dialect, untranslatable
from rulesync.library import Library
from rulesync.marker import Marker, load_marker
from rulesync.mdc import RuleType
from rulesync.project import choose_library, choose_tier, desired_rules, enabled_targets
from rulesync.report import emit_json
from rulesync.suggest import did_you_mean
from rulesync.targets import SourceRule, Target, combine, get
from rulesync.targets.base import CURSOR_ATTACH, How, Reader

ESTIMATE = "estimated tokens: ASCII characters / 4 + 1 per other character"
# The matrix's cell for each verdict.
_CELL = {
    How.ALWAYS: "always",
    How.GLOB: "glob",
    How.REQUESTABLE: "requestable",
    How.MANUAL: "manual",
    How.NOT_ATTACHED: "-",
    How.NOT_WRITTEN: "lost",
    How.SHADOWED: "shadowed",
    How.TRUNCATED: "truncated",
    How.TWICE: "TWICE",
    How.LOST: "LOST",
    How.UNTRANSLATABLE: "untranslatable",
}


class _Tier:
    """One tier as this project gets it: its rules, their origin tier, and every enabled
    target's rendering of them beside the others."""

    def __init__(
        self,
        marker: Marker,
        library: Library,
        tier: str,
        enabled: list[Target],
        disk: dict[str, bytes],
    ):
        desired = desired_rules(marker, library, tier)
        self.sources = [SourceRule(n, r.data) for n, r in desired.items()]
        self.by_stem = {s.stem: s for s in self.sources}
        self.origin = {n: r.tier for n, r in desired.items()}
        self.enabled = enabled
        # As apply renders them: planned together, beside the project's own files.
        self.rendered = reading.plan_together([t.name for t in enabled], self.sources, disk)

    @property
    def stems(self) -> list[str]:
        return [s.stem for s in self.sources]

    def kind(self, stem: str) -> RuleType:
        return self.by_stem[stem].info.rule_type

    def view(self, own: dict[str, bytes]) -> reading.View:
        """What every assistant finds once apply has run, the project's own files kept."""
        out = combine(self.rendered)
        return reading.view(own, self.enabled, self.sources, out.files, out.blocks)


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


def _verdicts(tier: _Tier, reader: Reader, view: reading.View, path: str) -> list[reading.Verdict]:
    """Each rule's verdict; a rule whose globs the reader's dialect cannot say and that
    nothing attaches is `untranslatable`."""
    load = reading.simulate(reader, view.files, path, view.origins)
    found = []
    for verdict in reading.verdicts(load, tier.stems):
        source = tier.by_stem[verdict.rule]
        unreached = verdict.how in (How.NOT_ATTACHED, How.LOST)
        if unreached and reader.dialect == Dialect.ROOTED and untranslatable(source.info.globs):
            verdict = verdict._replace(how=How.UNTRANSLATABLE)
        found.append(verdict)
    return found


def _attachments(tier: _Tier, verdicts: list[reading.Verdict]) -> list[Attachment]:
    found = []
    for v in verdicts:
        kind = tier.kind(v.rule)
        other = None if v.how is CURSOR_ATTACH[kind] else kind
        glob = v.glob if v.how is How.GLOB or (other and v.glob) else ""
        found.append(Attachment(f"{v.rule}.mdc", v.how, glob, other))
    order = list(How)
    return sorted(found, key=lambda a: (order.index(a.how), a.name))


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


def _print_verdicts(
    name: str, verdicts: list[Attachment], tier: str, origin: dict[str, str], heading: bool
) -> None:
    indent = ""
    if heading:
        print(f"target {name}:")
        indent = "  "
    current = ""
    for verdict in verdicts:
        # Always and glob-matched rules are both in the context: one heading.
        title = "attached" if verdict.how in ATTACHED else verdict.how.value
        if title != current:
            print(f"{indent}{title}:")
            current = title
        source = f"  [from {origin[verdict.name]}]" if origin[verdict.name] != tier else ""
        print(f"{indent}  {verdict.name:<32} {verdict.why}{source}")


def _explain_path(
    path: str,
    tier_name: str,
    tier: _Tier,
    targets: list[Target],
    view: reading.View,
    whole: bool,
    json: bool,
) -> None:
    every = {
        t.name: _attachments(tier, _verdicts(tier, t.reads, view, path))
        for t in targets
        if t.reads is not None
    }
    matrix: dict[str, list[reading.Verdict]] = {}
    if whole:
        for reader in reading.enabled_readers(targets):
            matrix[reader.assistant] = _verdicts(tier, reader, view, path)
    first = targets[0].name
    if json:
        emit_json(
            {
                "path": path,
                "tier": tier_name,
                "target": first,
                "rules": _verdict_json(every[first], tier.origin),
                "targets": [
                    {"name": name, "rules": _verdict_json(verdicts, tier.origin)}
                    for name, verdicts in every.items()
                ],
                "assistants": [
                    {
                        "name": assistant,
                        "rules": [
                            {
                                "name": f"{v.rule}.mdc",
                                "how": v.how.value,
                                "glob": v.glob or None,
                                "files": list(v.sources),
                            }
                            for v in verdicts
                        ],
                    }
                    for assistant, verdicts in matrix.items()
                ],
            }
        )
        return
    print(f"{path}: tier {tier_name}")
    if not whole or [t.name for t in targets] == ["cursor"]:
        for name, verdicts in every.items():
            _print_verdicts(name, verdicts, tier_name, tier.origin, len(every) > 1)
        return
    _print_matrix(tier, matrix)


def _print_matrix(tier: _Tier, matrix: dict[str, list[reading.Verdict]]) -> None:
    """One row per rule, one column per assistant; a legend of the loud cells."""
    names = list(matrix)
    width = max([len(f"{s}.mdc") for s in tier.stems] + [4]) + 2
    columns = [max(len(n), 11) + 2 for n in names]
    print("what each assistant loads (the project's files once apply has run, its own kept):")
    header = "".join(n.ljust(c) for n, c in zip(names, columns, strict=True))
    print(f"  {'rule'.ljust(width)}{header}".rstrip())
    for index, stem in enumerate(tier.stems):
        cells = "".join(
            _CELL[matrix[n][index].how].ljust(c) for n, c in zip(names, columns, strict=True)
        )
        print(f"  {f'{stem}.mdc'.ljust(width)}{cells}".rstrip())
    loud = [
        (n, v)
        for n in names
        for v in matrix[n]
        if v.how in (How.TWICE, How.LOST, How.TRUNCATED, How.SHADOWED, How.UNTRANSLATABLE)
    ]
    for assistant, verdict in loud:
        files = f" ({', '.join(verdict.sources)})" if verdict.sources else ""
        print(f"  {assistant}: {verdict.rule}.mdc {verdict.how.value}{files}")


def _costs(reader: Reader, view: reading.View) -> list[Cost]:
    load = reading.simulate(reader, view.files, "", view.origins)
    return reading.named(load.costs, view.origins)


def _report(name: str, every: dict[str, list[Cost]], tier: str) -> dict[str, object]:
    costs = every[tier]
    return {
        "name": name,
        "rules": [
            {"name": c.name, "loads": c.loads, "bytes": c.bytes, "tokens": c.tokens} for c in costs
        ],
        "total": {"bytes": sum(c.bytes for c in costs), "tokens": total_tokens(costs)},
        "tiers": [
            {"name": n, "bytes": sum(c.bytes for c in cs), "tokens": total_tokens(cs)}
            for n, cs in every.items()
        ],
    }


def _print_budget(report: dict[str, object], tier: str, budget: int | None, heading: str) -> None:
    indent = ""
    if heading:
        print(heading)
        indent = "  "
    rows = report["rules"]
    total = report["total"]
    assert isinstance(rows, list) and isinstance(total, dict)
    print(f"{indent}tier {tier}: loaded on every request ({ESTIMATE})")
    print(f"{indent}  {'tokens':>7} {'bytes':>7}  rule")
    for row in rows:
        print(f"{indent}  {row['tokens']:>7,} {row['bytes']:>7,}  {row['name']} ({row['loads']})")
    print(f"{indent}  {total['tokens']:>7,} {total['bytes']:>7,}  total")
    print(f"{indent}every tier:")
    tiers = report["tiers"]
    assert isinstance(tiers, list)
    for row in tiers:
        tokens = row["tokens"]
        over = f"  over the budget of {budget:,}" if budget is not None and tokens > budget else ""
        mark = "  <- this project" if row["name"] == tier else ""
        print(
            f"{indent}  {row['name']:<16} {tokens:>7,} tokens {row['bytes']:>7,} bytes{over}{mark}"
        )


def _budget(
    tier_name: str,
    library: Library,
    tiers: dict[str, _Tier],
    targets: list[Target],
    views: dict[str, reading.View],
    whole: bool,
    json: bool,
) -> None:
    budget = library.always_tokens_budget
    by_target = [
        _report(t.name, {n: _costs(t.reads, view) for n, view in views.items()}, tier_name)
        for t in targets
        if t.reads is not None
    ]
    by_assistant = []
    if whole:
        for reader in reading.enabled_readers(targets):
            every = {n: _costs(reader, view) for n, view in views.items()}
            by_assistant.append(_report(reader.assistant, every, tier_name))
    if json:
        first = by_target[0]
        emit_json(
            {
                "tier": tier_name,
                "estimate": ESTIMATE,
                "budget_always_tokens": budget,
                "target": first["name"],
                "rules": first["rules"],
                "total": first["total"],
                "tiers": first["tiers"],
                "targets": by_target,
                "assistants": by_assistant,
            }
        )
        return
    if by_assistant:
        alone = len(by_assistant) == 1
        for report in by_assistant:
            heading = "" if alone else f"assistant {report['name']}:"
            _print_budget(report, tier_name, budget, heading)
        return
    for report in by_target:
        heading = "" if len(by_target) == 1 else f"target {report['name']}:"
        _print_budget(report, tier_name, budget, heading)


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
        tier_name = choose_tier(marker, library)[0]
    elif args.tier in library.tier_names:
        tier_name = args.tier
    else:
        raise InvalidInput(
            f"--tier {args.tier}: no such tier in library {library.label}"
            f"{did_you_mean(args.tier, library.tier_names)}; "
            f"valid: {', '.join(library.tier_names)}"
        )
    whole = args.target is None
    path = _relative(args.path, root) if args.path is not None else None
    managed: list[str] = []
    # A broken manifest: `check` says so; explain reads the files as they are.
    with contextlib.suppress(RulesyncError):
        managed = sorted(manifest_mod.load(root).files)
    disk = reading.own_files(reading.read_project(root, [path] if path else []), managed)
    if path is not None:
        tier = _Tier(marker, library, tier_name, enabled, disk)
        _explain_path(path, tier_name, tier, targets, tier.view(disk), whole, args.json)
        return EXIT_OK
    tiers = {name: _Tier(marker, library, name, enabled, disk) for name in library.tier_names}
    views = {n: t.view(disk) for n, t in tiers.items()}
    _budget(tier_name, library, tiers, targets, views, whole, args.json)
    return EXIT_OK
