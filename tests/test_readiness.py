"""Promotion criteria, `rulesync readiness` and `phase: auto` at every threshold (SPEC §6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rulesync.errors import InvalidInput
from rulesync.library import Criterion, Library, bundled_root, load_library
from rulesync.readiness import auto_tier, check_metrics, evaluate
from support.repos import git, rulesync, rulesync_commits

BUNDLED = load_library(bundled_root(), "default")


def criteria(library: Library) -> list[tuple[str, Criterion]]:
    return [(t.name, c) for t in library.tiers for c in t.criteria]


def test_enterprise_criteria_are_the_planning_documents_thresholds() -> None:
    found = {c.metric: (c.op, c.value, c.group) for c in BUNDLED.tier("enterprise").criteria}
    assert found == {
        "concurrent_users": (">=", 100, "technical"),
        "daily_requests": (">=", 10000, "technical"),
        "required_availability": (">=", 99.9, "technical"),
        "multi_region": ("==", True, "technical"),
        "b2b_customers": (">=", 10, "business"),
        "monthly_revenue_usd": (">=", 10000, "business"),
        "regulated_industry": ("==", True, "business"),
        "global_service": ("==", True, "business"),
        "developers": (">=", 10, "organisational"),
        "dedicated_devops": ("==", True, "organisational"),
        "ops_24x7": ("==", True, "organisational"),
        "compliance_officer": ("==", True, "organisational"),
    }


def below_at_above(criterion: Criterion) -> list[tuple[Any, bool]]:
    value = criterion.value
    if isinstance(value, bool):
        return [(not value, False), (value, True)]
    step = 1 if isinstance(value, int) else 0.01
    return [(value - step, False), (value, True), (value + step, True)]


@pytest.mark.parametrize(
    ("tier", "criterion"), criteria(BUNDLED), ids=lambda x: getattr(x, "metric", x)
)
def test_each_criterion_just_below_at_and_just_above_its_threshold(
    tier: str, criterion: Criterion
) -> None:
    assert criterion.op in (">=", "==")
    for value, met in below_at_above(criterion):
        result = evaluate(BUNDLED.tier(tier), {criterion.metric: value})
        (one,) = [r for r in result.results if r.criterion == criterion]
        assert one.met is met, (criterion.metric, value)


def test_missing_metric_is_not_met() -> None:
    result = evaluate(BUNDLED.tier("enterprise"), {})
    assert not result.met and not any(r.met for r in result.results)


ENTERPRISE_TWO_GROUPS = {
    "concurrent_users": 100,
    "daily_requests": 10000,
    "b2b_customers": 10,
    "regulated_industry": True,
}


def test_auto_selects_basic_advanced_and_enterprise_at_the_policy_boundaries() -> None:
    assert auto_tier(BUNDLED, {})[0] == "basic"
    assert auto_tier(BUNDLED, {"developers": 1, "domains": 1, "cloud_vms": 0})[0] == "basic"
    assert auto_tier(BUNDLED, {"developers": 2})[0] == "advanced"
    assert auto_tier(BUNDLED, {"cloud_vms": 1})[0] == "advanced"
    tier, reasons = auto_tier(BUNDLED, ENTERPRISE_TWO_GROUPS)
    assert tier == "enterprise"
    assert "concurrent_users 100 >= 100" in reasons and "regulated_industry true == true" in reasons
    just_below = {**ENTERPRISE_TWO_GROUPS, "b2b_customers": 9}
    assert auto_tier(BUNDLED, just_below)[0] != "enterprise"
    one_group = {"concurrent_users": 5000, "daily_requests": 10**6, "multi_region": True}
    assert auto_tier(BUNDLED, one_group)[0] != "enterprise"


def test_policy_counts_groups(tmp_path: Path) -> None:
    from support.repos import make_library

    lib = load_library(make_library(tmp_path / "lib"), "t")
    ent = lib.tier("enterprise")  # min_groups 1, group_met all
    assert evaluate(ent, {"concurrent_users": 100, "multi_region": True}).met
    assert not evaluate(ent, {"concurrent_users": 100}).met
    assert evaluate(ent, {"b2b_customers": 10}).met


def test_bad_metrics_name_the_key(tmp_path: Path) -> None:
    marker = tmp_path / ".rulesync.yaml"
    with pytest.raises(InvalidInput, match="unknown metric `developpers`"):
        check_metrics(BUNDLED, {"developpers": 3}, marker)
    with pytest.raises(InvalidInput, match="`developers` must be a number"):
        check_metrics(BUNDLED, {"developers": "three"}, marker)
    with pytest.raises(InvalidInput, match="`developers` must be a number"):
        check_metrics(BUNDLED, {"developers": True}, marker)
    with pytest.raises(InvalidInput, match="`multi_region` must be true or false"):
        check_metrics(BUNDLED, {"multi_region": "yes"}, marker)


@pytest.fixture
def auto_project(repo: Path) -> Path:
    (repo / ".rulesync.yaml").write_text("phase: auto\nmetrics:\n  developers: 1\n")
    return repo


def test_readiness_command_table_and_json(auto_project: Path) -> None:
    out = rulesync(auto_project, "readiness", check=0).stdout
    assert "advanced: not yet" in out and "enterprise: not yet" in out
    assert "developers" in out and "개발자 2명 이상" in out
    doc = json.loads(rulesync(auto_project, "readiness", "--json", check=0).stdout)
    assert doc["tier"] == "basic"
    advanced = doc["tiers"][0]
    assert advanced["tier"] == "advanced" and advanced["met"] is False
    developers = next(c for c in advanced["criteria"] if c["metric"] == "developers")
    assert developers == {
        "metric": "developers",
        "op": ">=",
        "threshold": 2,
        "value": 1,
        "group": "organisational",
        "label": "개발자 2명 이상",
        "met": False,
        "state": "not met",
        "source": "pinned in .rulesync.yaml",
        "pinned": True,
        "measured": None,
        "note": None,
    }


def test_phase_auto_moves_with_the_metrics_and_the_commit_names_the_criteria(
    auto_project: Path,
) -> None:
    rulesync(auto_project, "apply", check=0)
    assert rulesync_commits(auto_project) == ["rulesync: install basic rules (+8)"]
    (auto_project / ".rulesync.yaml").write_text(
        "phase: auto\nmetrics:\n  developers: 12\n  dedicated_devops: true\n"
        "  b2b_customers: 11\n  monthly_revenue_usd: 25000\n"
    )
    rulesync(auto_project, "apply", check=0)
    assert rulesync_commits(auto_project)[0].startswith("rulesync: phase basic → enterprise")
    body = git(auto_project, "log", "-1", "--format=%B")
    assert "phase: auto selected enterprise because:" in body
    assert "  - developers 12 >= 10" in body and "  - b2b_customers 11 >= 10" in body
    assert "Rulesync-Phase: enterprise (auto)" in body
    assert rulesync(auto_project, "phase", check=0).stdout == "auto → enterprise\n"


def test_bad_metric_in_the_marker_is_exit_2_naming_the_key(auto_project: Path) -> None:
    (auto_project / ".rulesync.yaml").write_text("phase: auto\nmetrics:\n  developer_count: 3\n")
    proc = rulesync(auto_project, "apply", check=2)
    assert "developer_count" in proc.stderr and ".rulesync.yaml" in proc.stderr
