"""The bundled vision-AI library: tiers resolve, every rule lints clean, phases move exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from rulesync.library import Library, bundled_root, load_library
from rulesync.lint import lint_path
from rulesync.mdc import RuleType, read_rule
from tests.conftest import git, rulesync, rulesync_commits

RULES = Path(".cursor/rules")


@pytest.fixture(scope="module")
def bundled() -> Library:
    return load_library(bundled_root(), "default")


def test_three_tiers_in_order_each_extending_the_previous(bundled: Library) -> None:
    assert bundled.tier_names == ("basic", "advanced", "enterprise")
    assert [t.extends for t in bundled.tiers] == [None, "basic", "advanced"]
    for tier in bundled.tiers:
        assert tier.description
        assert (bundled.root / tier.name / "README.md").is_file()


def test_tier_sizes_and_the_four_enterprise_rules(bundled: Library) -> None:
    basic = bundled.resolve_names("basic")
    advanced = bundled.resolve_names("advanced")
    enterprise = bundled.resolve_names("enterprise")
    assert len(bundled.own_rule_names("basic")) >= 5
    assert len(bundled.own_rule_names("advanced")) >= 5
    assert set(basic) <= set(advanced) <= set(enterprise)
    assert {
        "deployment-scale.mdc",
        "monitoring-enterprise.mdc",
        "security-enterprise.mdc",
        "data-lifecycle.mdc",
    } <= set(bundled.own_rule_names("enterprise"))
    # A higher tier replaces a lower tier's rule where the practice changes.
    assert basic["logging.mdc"] == "basic"
    assert advanced["logging.mdc"] == "advanced"
    assert enterprise["logging.mdc"] == "enterprise"


def test_every_bundled_rule_lints_clean_with_no_warning() -> None:
    reports = lint_path(bundled_root())
    findings = [(r.path.name, f.message) for r in reports for f in r.findings]
    assert findings == []
    assert len(reports) >= 1 + 5 + 5 + 4


def test_rule_types_are_chosen_on_purpose(bundled: Library) -> None:
    types = {
        name: read_rule(rule.data).rule_type for name, rule in bundled.resolve("enterprise").items()
    }
    assert {RuleType.ALWAYS, RuleType.AUTO_ATTACHED, RuleType.AGENT_REQUESTED} <= set(
        types.values()
    )
    for name, rule in bundled.resolve("enterprise").items():
        text = rule.data.decode("utf-8")
        assert any("\uac00" <= ch <= "\ud7a3" for ch in text), f"{name} is not written in Korean"


def test_readme_files_are_never_copied(project_default: Path) -> None:
    rulesync(project_default, "apply", check=0)
    assert not (project_default / RULES / "README.md").exists()


@pytest.fixture
def project_default(repo: Path) -> Path:
    (repo / ".rulesync.yaml").write_text("phase: basic\n")
    return repo


def test_basic_advanced_enterprise_basic_changes_exactly_what_the_library_says(
    project_default: Path, bundled: Library
) -> None:
    project = project_default
    previous: dict[str, str] = {}
    for count, phase in enumerate(["basic", "advanced", "enterprise", "basic"], start=1):
        (project / ".rulesync.yaml").write_text(f"phase: {phase}\n")
        rulesync(project, "apply", check=0)
        expected = bundled.resolve(phase)
        on_disk = {p.name for p in (project / RULES).glob("*.mdc")}
        assert on_disk == set(expected)
        for name, rule in expected.items():
            assert (project / RULES / name).read_bytes() == rule.data  # byte for byte
        assert len(rulesync_commits(project)) == count
        changed = git(project, "show", "--name-status", "--format=", "HEAD").splitlines()
        status = {line.split("\t")[1].rsplit("/", 1)[-1]: line[0] for line in changed}
        want = {n: "A" for n in expected if n not in previous}
        want |= {n: "M" for n in expected if n in previous and previous[n] != expected[n].sha256}
        want |= {n: "D" for n in previous if n not in expected}
        rules_status = {n: s for n, s in status.items() if n.endswith(".mdc")}
        assert rules_status == want, phase
        previous = {n: r.sha256 for n, r in expected.items()}
    assert rulesync_commits(project)[0].startswith("rulesync: phase enterprise → basic")
