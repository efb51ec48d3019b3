"""The bundled vision-AI library: tiers resolve, every rule lints clean, phases move exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from rulesync.explain import always_on, total_tokens
from rulesync.library import Library, bundled_root, load_library
from rulesync.lint import lint_path
from rulesync.mdc import RuleType, read_rule
from support.repos import REPO_ROOT, git, rulesync, rulesync_commits

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


def test_the_bundled_library_lints_clean_under_strict(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "lint", "--strict", check=0)
    assert proc.stdout.strip().endswith(": 0 error(s), 0 warning(s)")


def test_basic_installs_the_eight_rules_the_quick_start_names(bundled: Library) -> None:
    # .ci/run checks the quick start's commit subject `rulesync: install basic rules (+8)`.
    assert len(bundled.resolve_names("basic")) == 8


def test_enterprise_replaces_every_rule_that_contradicts_kubernetes_and_gitops(
    bundled: Library,
) -> None:
    enterprise = bundled.resolve("enterprise")
    for name in (
        "deployment-docker.mdc",
        "ci-cd.mdc",
        "security.mdc",
        "model-versioning.mdc",
        "face-data-privacy.mdc",
    ):
        assert enterprise[name].tier == "enterprise", name
    text = "\n".join(rule.data.decode("utf-8") for rule in enterprise.values())
    # advanced's VM practice (Compose deploys, git-SHA tags, tag rollback) is gone from the tier
    for practice in (
        "docker compose pull",
        "docker compose up",
        "직전 태그",
        ":<git-sha>",
        "Swarm을 씁",
    ):
        assert practice not in text, practice
    assert "@sha256:<digest>" in enterprise["deployment-docker.mdc"].data.decode("utf-8")
    assert "k8s/overlays/" in enterprise["ci-cd.mdc"].data.decode("utf-8")
    # every rule the enterprise overview names is in the tier
    overview = enterprise["project-overview.mdc"].data.decode("utf-8")
    related = overview.split("## 관련 규칙", 1)[1]
    named = {part.split("`")[0] for part in related.split("`")[1::2]}
    assert {f"{n}.mdc" for n in named} <= set(enterprise)


def test_the_documented_budget_table_is_what_explain_computes(bundled: Library) -> None:
    reference = (REPO_ROOT / "docs" / "reference" / "commands.md").read_text(encoding="utf-8")
    after = reference.split("The bundled library (`rulesync explain` in a project, per tier):")[1]
    table = after.strip().split("\n\n")[0].splitlines()[2:]  # the rows, after the header
    rows = {
        cells[0]: (cells[2], cells[3])
        for cells in ([c.strip() for c in line.strip("|").split("|")] for line in table)
    }
    for tier in bundled.tier_names:
        costs = always_on({n: read_rule(r.data) for n, r in bundled.resolve(tier).items()})
        assert rows[tier] == (f"{sum(c.bytes for c in costs):,}", f"{total_tokens(costs):,}")
        assert total_tokens(costs) <= (bundled.always_tokens_budget or 0)


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
