"""`rulesync readiness`: the criteria of the tiers above the current one against the evidence
(each metric pinned by the marker or measured from its source), and what `phase: auto` does."""

from __future__ import annotations

import argparse
from typing import Any

from rulesync import manifest as manifest_mod
from rulesync.commands._common import config, project_root
from rulesync.errors import EXIT_OK
from rulesync.evidence import Evidence, max_settle_days, measure, show, when
from rulesync.marker import load_marker
from rulesync.project import choose, choose_library
from rulesync.prometheus import public_url
from rulesync.readiness import (
    CriterionResult,
    TierReadiness,
    check_metrics,
    choose_auto,
    days_met,
    evaluate,
    explain_policy,
    group_needs,
)
from rulesync.report import emit_json


def _state(result: CriterionResult) -> str:
    if result.value is None:
        return "unknown"
    return "met" if result.met else "not met"


def _criterion_doc(result: CriterionResult, evidence: Evidence) -> dict[str, Any]:
    c = result.criterion
    reading = evidence.now[c.metric]
    return {
        "metric": c.metric,
        "op": c.op,
        "threshold": c.value,
        "value": result.value,
        "group": c.group,
        "label": c.label,
        "met": result.met,
        "state": _state(result),
        "source": reading.source,
        "pinned": reading.pinned,
        "measured": when(reading.measured) or None,
        "note": reading.note or None,
    }


def _settle(readiness: TierReadiness, evidence: Evidence) -> tuple[int, int]:
    """(days met before now, days needed) for a tier."""
    return days_met(readiness.tier, evidence.series()), readiness.tier.policy.settle_days


def run(args: argparse.Namespace) -> int:
    root = project_root()
    marker = load_marker(root)
    cfg = config()
    library = choose_library(marker, cfg)
    current = manifest_mod.load(root).tier or None
    check_metrics(library, marker.metrics, marker.path, marker.source)
    # A named phase is checked before anything is measured.
    choice = choose(marker, library, cfg, current) if marker.phase != "auto" else None
    evidence = measure(root, library, marker, cfg, days=max_settle_days(library), fresh=True)
    if choice is None:
        choice = choose_auto(library, evidence, current)
    tier = choice.tier
    names = library.tier_names
    above = [library.tier(n) for n in names[names.index(tier) + 1 :]]
    results = [evaluate(t, evidence.values) for t in above]
    url = marker.prometheus or cfg.prometheus
    if args.json:
        tiers = []
        for r in results:
            met_for, need = _settle(r, evidence)
            tiers.append(
                {
                    "tier": r.tier.name,
                    "met": r.met,
                    "settle_days": need,
                    "days_met": met_for,
                    "settled": r.met and met_for >= need,
                    "groups_met": list(r.groups_met),
                    "groups": list(r.groups),
                    "groups_needed": r.needed_groups,
                    "policy": explain_policy(r),
                    "criteria": [_criterion_doc(c, evidence) for c in r.results],
                }
            )
        emit_json(
            {
                "phase": marker.phase,
                "tier": tier,
                "would_demote": choice.would_demote,
                "prometheus": public_url(url) if url else None,
                "tiers": tiers,
            }
        )
        return EXIT_OK
    print(f"phase: {marker.phase} → tier {tier}")
    if choice.would_demote:
        print(
            f"the figures point to {choice.would_demote}; `phase: auto` never demotes by itself: "
            f"set `phase: {choice.would_demote}` to move down"
        )
    if not results:
        print("this is the highest tier")
    elif not library.sources and not marker.metrics:
        metrics = list(dict.fromkeys(c.criterion.metric for r in results for c in r.results))
        example = metrics[0] if metrics else "developers"
        print(
            f"no metrics in {marker.path.name} yet: add the project's figures under `metrics:` "
            f"(e.g. `metrics: {{{example}: 3}}`); the criteria below use: {', '.join(metrics)}"
        )
    for r in results:
        verdict = "READY" if r.met else "not yet"
        print(f"\n{r.tier.name}: {verdict} — {explain_policy(r)}")
        met_for, need = _settle(r, evidence)
        if need:
            so = "settled" if r.met and met_for >= need else "settling"
            print(
                f"  {so}: met on each of the last {met_for} day(s) before today; `phase: auto` "
                f"promotes after {need}"
            )
        for group in r.groups:
            met, needed, size = group_needs(r, group)
            state = "met" if group in r.groups_met else "not met"
            print(f"  group {group}: {state} ({met} of {size} criteria met, {needed} needed)")
            for c in r.results:
                if c.criterion.group != group:
                    continue
                reading = evidence.now[c.criterion.metric]
                stamp = f", {when(reading.measured)}" if reading.measured else ""
                why = f"; {reading.note}" if c.value is None and reading.note else ""
                label = f"  {c.criterion.label}" if c.criterion.label else ""
                print(
                    f"    [{_state(c):<7}] {c.criterion.metric} = {show(c.value)} "
                    f"({reading.source}{stamp}{why}), needs {c.criterion.op} "
                    f"{show(c.criterion.value)}{label}"
                )
        print(f"  {len(r.groups_met)} of {len(r.groups)} group(s) met, {r.needed_groups} needed")
    return EXIT_OK
