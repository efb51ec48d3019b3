"""`rulesync readiness`: the criteria of the tiers above the current one against the metrics."""

from __future__ import annotations

import argparse
from typing import Any

from rulesync.commands._common import config, project_root
from rulesync.marker import load_marker
from rulesync.project import choose_library, choose_tier
from rulesync.readiness import evaluate
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
        return 0
    print(f"phase: {marker.phase} → tier {tier}")
    if not results:
        print("this is the highest tier")
    for r in results:
        verdict = "READY" if r.met else "not yet"
        print(
            f"\n{r.tier.name}: {verdict} — {len(r.groups_met)} of {r.needed_groups} "
            f"needed group(s) met ({', '.join(r.groups_met) or 'none'})"
        )
        for c in r.results:
            mark = "met    " if c.met else "not met"
            value = "—" if c.value is None else str(c.value).lower()
            label = f"  {c.criterion.label}" if c.criterion.label else ""
            print(
                f"  [{mark}] {c.criterion.group:<15} {c.criterion.metric:<22} "
                f"{value:>8} {c.criterion.op} {str(c.criterion.value).lower():<8}{label}"
            )
    return 0
