"""`rulesync readiness`: the criteria of the tiers above the current one against the metrics."""

from __future__ import annotations

import argparse
from typing import Any

from rulesync.commands._common import config, project_root
from rulesync.errors import EXIT_OK
from rulesync.marker import load_marker
from rulesync.project import choose_library, choose_tier
from rulesync.readiness import evaluate, explain_policy, group_needs
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    marker = load_marker(project_root())
    library = choose_library(marker, config())
    tier, _ = choose_tier(marker, library)
    names = library.tier_names
    above = [library.tier(n) for n in names[names.index(tier) + 1 :]]
    results = [evaluate(t, marker.metrics) for t in above]
    if args.json:
        doc: dict[str, Any] = {
            "phase": marker.phase,
            "tier": tier,
            "tiers": [
                {
                    "tier": r.tier.name,
                    "met": r.met,
                    "groups_met": list(r.groups_met),
                    "groups": list(r.groups),
                    "groups_needed": r.needed_groups,
                    "policy": explain_policy(r),
                    "criteria": [
                        {
                            "metric": c.criterion.metric,
                            "op": c.criterion.op,
                            "threshold": c.criterion.value,
                            "value": c.value,
                            "group": c.criterion.group,
                            "label": c.criterion.label,
                            "met": c.met,
                        }
                        for c in r.results
                    ],
                }
                for r in results
            ],
        }
        emit_json(doc)
        return EXIT_OK
    print(f"phase: {marker.phase} → tier {tier}")
    if not results:
        print("this is the highest tier")
    elif not marker.metrics:
        metrics = list(dict.fromkeys(c.criterion.metric for r in results for c in r.results))
        example = metrics[0] if metrics else "developers"
        print(
            f"no metrics in {marker.path.name} yet: add the project's figures under `metrics:` "
            f"(e.g. `metrics: {{{example}: 3}}`); the criteria below use: {', '.join(metrics)}"
        )
    for r in results:
        verdict = "READY" if r.met else "not yet"
        print(f"\n{r.tier.name}: {verdict} — {explain_policy(r)}")
        for group in r.groups:
            met, needed, size = group_needs(r, group)
            state = "met" if group in r.groups_met else "not met"
            print(f"  group {group}: {state} ({met} of {size} criteria met, {needed} needed)")
            for c in r.results:
                if c.criterion.group != group:
                    continue
                mark = "met    " if c.met else "not met"
                value = "—" if c.value is None else str(c.value).lower()
                label = f"  {c.criterion.label}" if c.criterion.label else ""
                print(
                    f"    [{mark}] {c.criterion.metric:<22} {value:>8} {c.criterion.op} "
                    f"{str(c.criterion.value).lower():<8}{label}"
                )
        print(f"  {len(r.groups_met)} of {len(r.groups)} group(s) met, {r.needed_groups} needed")
    return EXIT_OK
