"""Promotion criteria against a project's metrics, and the tier `phase: auto` selects. Pure."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rulesync.errors import InvalidInput
from rulesync.library import Criterion, Library, Tier

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class CriterionResult:
    """One criterion with the project's value (None when the marker does not give it)."""

    criterion: Criterion
    value: float | bool | None
    met: bool

    def describe(self) -> str:
        c = self.criterion
        shown = "—" if self.value is None else _show(self.value)
        return f"{c.metric} {shown} {c.op} {_show(c.value)}"


@dataclass(frozen=True)
class TierReadiness:
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


def check_metrics(library: Library, metrics: Mapping[str, Any], marker_path: Path) -> None:
    """Raise InvalidInput for a metric no criterion knows or a value of the wrong type."""
    known: dict[str, Criterion] = {}
    for tier in library.tiers:
        for criterion in tier.criteria:
            known.setdefault(criterion.metric, criterion)
    for key, value in metrics.items():
        if key not in known:
            names = ", ".join(sorted(known)) or "none"
            raise InvalidInput(
                f"{marker_path}: unknown metric `{key}` in metrics; the library's metrics: {names}"
            )
        wants_bool = isinstance(known[key].value, bool)
        is_bool = isinstance(value, bool)
        is_number = isinstance(value, int | float) and not is_bool
        if wants_bool and not is_bool:
            raise InvalidInput(
                f"{marker_path}: metric `{key}` must be true or false, not {value!r}"
            )
        if not wants_bool and not is_number:
            raise InvalidInput(f"{marker_path}: metric `{key}` must be a number, not {value!r}")


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
        count = sum(r.met for r in in_group)
        if policy.group_met == "all":
            need = len(in_group)
        elif policy.group_met == "any":
            need = 1
        else:
            need = min(int(policy.group_met), len(in_group))
        if count >= need:
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
