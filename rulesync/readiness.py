"""Promotion criteria against a project's metrics (pinned or measured), and the tier `phase: auto`
selects: settled for each tier's settling time, never lower than the tier last applied. Pure."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rulesync.errors import InvalidInput
from rulesync.library import AutoChoice, Criterion, Library, Policy, Tier
from rulesync.suggest import did_you_mean

if TYPE_CHECKING:
    from rulesync.evidence import Evidence

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


class CriterionResult(NamedTuple):
    """One criterion with the project's value (None when the marker does not give it)."""

    criterion: Criterion
    value: float | bool | None
    met: bool

    def describe(self) -> str:
        c = self.criterion
        shown = "—" if self.value is None else _show(self.value)
        return f"{c.metric} {shown} {c.op} {_show(c.value)}"


class TierReadiness(NamedTuple):
    """How a tier's criteria stand, group by group, and whether its policy is met."""

    tier: Tier
    results: tuple[CriterionResult, ...]
    groups_met: tuple[str, ...]
    groups: tuple[str, ...]
    needed_groups: int
    met: bool


def _show(value: float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def metric_lines(source: bytes) -> dict[str, int]:
    """The line of each key under the marker's `metrics:` (empty when it cannot tell)."""
    import yaml

    try:
        root = yaml.compose(source.decode("utf-8"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError):
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if key.value == "metrics" and isinstance(value, yaml.MappingNode):
            return {k.value: k.start_mark.line + 1 for k, _ in value.value}
    return {}


def check_metrics(
    library: Library, metrics: Mapping[str, Any], marker_path: Path, source: bytes = b""
) -> None:
    """Raise InvalidInput for a metric no criterion knows or a value of the wrong type, naming
    its line in the marker (from the marker's `source` bytes, when given)."""
    known: dict[str, Criterion] = {}
    for tier in library.tiers:
        for criterion in tier.criteria:
            known.setdefault(criterion.metric, criterion)

    def where(key: str) -> str:
        line = metric_lines(source).get(key) if source else None
        return f"{marker_path}:{line}" if line else str(marker_path)

    for key, value in metrics.items():
        if key not in known:
            names = ", ".join(sorted(known)) or "none"
            raise InvalidInput(
                f"{where(key)}: unknown metric `{key}`{did_you_mean(key, known)} in metrics; "
                f"the library's metrics: {names}"
            )
        wants_bool = isinstance(known[key].value, bool)
        is_bool = isinstance(value, bool)
        is_number = isinstance(value, int | float) and not is_bool
        if wants_bool and not is_bool:
            raise InvalidInput(f"{where(key)}: metric `{key}` must be true or false, not {value!r}")
        if not wants_bool and not is_number:
            raise InvalidInput(f"{where(key)}: metric `{key}` must be a number, not {value!r}")


def _group_rule(group_met: str | int) -> str:
    if group_met == "all":
        return "all of its criteria are met"
    if group_met == "any":
        return "any one of its criteria is met"
    return f"{group_met} of its criteria are met (or all, in a smaller group)"


def explain_policy(readiness: TierReadiness) -> str:
    """The tier's promotion policy in words, e.g. `needs 1 of its 2 groups (technical,
    business); a group counts when all of its criteria are met`."""
    groups = readiness.groups
    if not groups:
        return "has no criteria: only a `phase:` naming it selects it"
    which = "every one" if readiness.needed_groups == len(groups) else str(readiness.needed_groups)
    return (
        f"needs {which} of its {len(groups)} group(s) ({', '.join(groups)}); "
        f"a group counts when {_group_rule(readiness.tier.policy.group_met)}"
    )


def group_needs(readiness: TierReadiness, group: str) -> tuple[int, int, int]:
    """(criteria met, criteria needed, criteria in the group) for one group."""
    in_group = [r for r in readiness.results if r.criterion.group == group]
    met = sum(r.met for r in in_group)
    return met, _needed(readiness.tier.policy, len(in_group)), len(in_group)


def _needed(policy: Policy, size: int) -> int:
    if policy.group_met == "all":
        return size
    if policy.group_met == "any":
        return 1
    return min(int(policy.group_met), size)


def evaluate(tier: Tier, metrics: Mapping[str, Any]) -> TierReadiness:
    """Evaluate a tier's criteria and promote_when policy against `metrics`."""
    results = []
    for criterion in tier.criteria:
        value = metrics.get(criterion.metric)
        met = value is not None and _OPS[criterion.op](value, criterion.value)
        results.append(CriterionResult(criterion, value, met))
    groups = tuple(dict.fromkeys(c.group for c in tier.criteria))
    policy = tier.policy
    groups_met = []
    for group in groups:
        in_group = [r for r in results if r.criterion.group == group]
        if sum(r.met for r in in_group) >= _needed(policy, len(in_group)):
            groups_met.append(group)
    needed = len(groups) if policy.min_groups is None else min(policy.min_groups, len(groups))
    met = bool(groups) and len(groups_met) >= needed
    return TierReadiness(tier, tuple(results), tuple(groups_met), groups, needed, met)


def auto_tier(library: Library, metrics: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The highest tier whose policy the metrics meet (the first tier otherwise), and why."""
    chosen = library.tiers[0].name
    reasons: list[str] = []
    for tier in library.tiers[1:]:
        readiness = evaluate(tier, metrics)
        if readiness.met:
            chosen = tier.name
            reasons = [r.describe() for r in readiness.results if r.met]
    return chosen, reasons


def days_met(tier: Tier, series: Sequence[Mapping[str, Any]]) -> int:
    """How many days before now the tier's policy was met without a break (`series`: the
    values now, a day ago, …; 0 when it is not met now)."""
    if not series or not evaluate(tier, series[0]).met:
        return 0
    count = 0
    for values in series[1:]:
        if not evaluate(tier, values).met:
            break
        count += 1
    return count


def choose_auto(library: Library, evidence: Evidence, current: str | None) -> AutoChoice:
    """The highest tier whose policy the evidence has met for its settling time (the first
    tier otherwise), never below `current` (the tier last applied): a lower one is only
    reported as `would_demote`."""
    series = evidence.series()
    names = library.tier_names
    chosen = names[0]
    reasons: tuple[str, ...] = ()
    settling = []
    highest_now = names[0]
    for tier in library.tiers[1:]:
        readiness = evaluate(tier, series[0])
        if not readiness.met:
            continue
        highest_now = tier.name
        met_for = days_met(tier, series)
        need = tier.policy.settle_days
        if met_for < need:
            settling.append((tier.name, met_for, need))
            continue
        chosen = tier.name
        reasons = tuple(
            f"{r.describe()} ({evidence.now[r.criterion.metric].source})"
            if r.criterion.metric in evidence.now
            else r.describe()
            for r in readiness.results
            if r.met
        )
    would_demote = None
    if current in names and names.index(current) > names.index(chosen):
        if names.index(highest_now) < names.index(current):
            would_demote = highest_now
        chosen, reasons = current, ()
    return AutoChoice(chosen, reasons, evidence.lines(), would_demote, tuple(settling))
