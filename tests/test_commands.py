"""The read commands and the small ones: check, diff, status, phase, tiers, init, -C, --json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.repos import git, rulesync, rulesync_commits

RULES = Path(".cursor/rules")


def test_check_passes_in_sync_and_fails_for_add_change_and_delete(project: Path) -> None:
    assert rulesync(project, "check").returncode == 1  # nothing applied yet: files to add
    rulesync(project, "apply", check=0)
    rulesync(project, "check", check=0)

    (project / RULES / "logging.mdc").unlink()
    assert "+ .cursor/rules/logging.mdc" in rulesync(project, "check", check=1).stdout
    rulesync(project, "apply", check=0)

    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    out = rulesync(project, "check", check=1).stdout
    assert "~ .cursor/rules/logging.mdc" in out and "+ .cursor/rules/monitoring.mdc" in out
    rulesync(project, "apply", check=0)

    (project / ".rulesync.yaml").write_text("phase: basic\n")
    out = rulesync(project, "check", check=1).stdout
    assert "- .cursor/rules/monitoring.mdc" in out and "- .cursor/rules/security.mdc" in out


def test_check_json_is_one_document(project: Path) -> None:
    doc = json.loads(rulesync(project, "check", "--json", check=1).stdout)
    assert doc["in_sync"] is False and doc["counts"]["add"] == 3
    assert {a["path"] for a in doc["actions"]} == {
        ".cursor/rules/logging.mdc",
        ".cursor/rules/privacy.mdc",
        ".cursor/rules/testing.mdc",
    }


def test_check_works_from_the_repository_alone_in_a_fresh_clone(
    project: Path, tmp_path: Path
) -> None:
    rulesync(project, "apply", check=0)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    rulesync(clone, "check", check=0)


def test_diff_shows_a_unified_diff_of_what_apply_would_change(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    out = rulesync(project, "diff", check=1).stdout
    assert "--- a/.cursor/rules/logging.mdc\n+++ b/.cursor/rules/logging.mdc" in out
    assert "-Use the logging module." in out and "+Log JSON lines with structlog." in out
    assert "--- /dev/null\n+++ b/.cursor/rules/monitoring.mdc" in out
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    assert rulesync(project, "diff", check=0).stdout == ""


def test_dry_run_prints_the_plan_and_writes_nothing(project: Path) -> None:
    out = rulesync(project, "apply", "--dry-run", check=0).stdout
    assert "+ .cursor/rules/privacy.mdc" in out and "nothing written" in out
    assert not (project / RULES).exists()
    doc = json.loads(rulesync(project, "apply", "--dry-run", "--json", check=0).stdout)
    assert doc["counts"]["add"] == 3


def test_status_reports_phase_tier_managed_drift_conflicts_commit_service(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / RULES / "privacy.mdc").write_text("edited\n")
    doc = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    assert doc["phase"] == "basic" and doc["tier"] == "basic"
    assert doc["managed"] == [
        ".cursor/rules/logging.mdc",
        ".cursor/rules/privacy.mdc",
        ".cursor/rules/testing.mdc",
    ]
    assert doc["targets"] == ["cursor"]
    assert doc["drift"] is True and doc["conflicts"] == [".cursor/rules/privacy.mdc"]
    assert doc["last_commit"]["subject"] == "rulesync: install basic rules (+3)"
    assert doc["service"]["running"] is False
    text = rulesync(project, "status", check=0).stdout
    assert "phase:    basic → tier basic" in text and "service:  not running" in text


def test_status_says_when_rulesyncs_changes_are_written_but_not_committed(
    project: Path,
) -> None:
    rulesync(project, "apply", "--no-commit", check=0)
    doc = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    assert doc["commit_owed"] is True and doc["drift"] is False
    text = rulesync(project, "status", check=0).stdout
    assert "commit:   owed: rulesync's changes are written but not committed" in text
    assert "`apply` commits them" in text
    rulesync(project, "apply", check=0)
    assert rulesync_commits(project) == ["rulesync: install basic rules (+3)"]
    doc = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    assert doc["commit_owed"] is False
    assert "owed" not in rulesync(project, "status", check=0).stdout


def test_phase_prints_and_sets_keeping_comments_then_applies(project: Path) -> None:
    (project / ".rulesync.yaml").write_text("# team phase\nphase: basic  # see tiers\n")
    assert rulesync(project, "phase", check=0).stdout == "basic\n"
    rulesync(project, "phase", "advanced", check=0)
    assert (
        project / ".rulesync.yaml"
    ).read_text() == "# team phase\nphase: advanced  # see tiers\n"
    assert rulesync_commits(project)[0] == "rulesync: install advanced rules (+5)"
    assert ".rulesync.yaml" in git(project, "show", "--name-only", "--format=", "HEAD")


def test_phase_refuses_an_unknown_tier_and_changes_nothing(project: Path) -> None:
    proc = rulesync(project, "phase", "platinum", check=2)
    assert "unknown phase `platinum`" in proc.stderr
    assert "basic, advanced, enterprise, auto" in proc.stderr
    assert (project / ".rulesync.yaml").read_text() == "phase: basic\n"


def test_unknown_phase_in_the_marker_is_exit_2_with_file_and_line(project: Path) -> None:
    (project / ".rulesync.yaml").write_text("# x\nphase: expert\n")
    proc = rulesync(project, "apply", check=2)
    assert f"{project / '.rulesync.yaml'}:2: unknown phase `expert`" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (project / RULES).exists()


def test_tiers_lists_tiers_in_order_with_resolved_rules(project: Path) -> None:
    doc = json.loads(rulesync(project, "tiers", "--json", check=0).stdout)
    assert [t["name"] for t in doc["tiers"]] == ["basic", "advanced", "enterprise"]
    advanced = {r["name"]: r for r in doc["tiers"][1]["rules"]}
    assert advanced["logging.mdc"]["from"] == "advanced"
    assert advanced["testing.mdc"]["from"] == "basic"
    assert advanced["testing.mdc"]["type"] == "Auto Attached"
    assert advanced["privacy.mdc"]["type"] == "Always"
    text = rulesync(project, "tiers", check=0).stdout
    assert "advanced (extends basic)" in text


def test_tiers_of_the_bundled_library_outside_any_project(tmp_path: Path) -> None:
    out = rulesync(tmp_path, "tiers", "--library", "default", check=0).stdout
    assert "basic" in out and "advanced (extends basic)" in out
    assert "enterprise (extends advanced)" in out


def test_init_writes_a_marker_registers_and_applies(repo: Path, library: Path) -> None:
    proc = rulesync(repo, "init", "--phase", "advanced", check=0)
    assert "registered" in proc.stdout
    assert "phase: advanced" in (repo / ".rulesync.yaml").read_text()
    registry = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "projects.yaml"
    assert str(repo) in registry.read_text()
    assert rulesync_commits(repo) == ["rulesync: install advanced rules (+5)"]
    assert ".rulesync.yaml" in git(repo, "show", "--name-only", "--format=", "HEAD")
    again = rulesync(repo, "init", check=0)
    assert "exists, kept" in again.stdout
    assert len(rulesync_commits(repo)) == 1


def test_init_refuses_an_unknown_phase_and_writes_nothing(repo: Path, library: Path) -> None:
    rulesync(repo, "init", "--phase", "nope", check=2)
    assert not (repo / ".rulesync.yaml").exists()


def test_dash_c_runs_as_if_started_there(project: Path, tmp_path: Path) -> None:
    rulesync(tmp_path, "-C", str(project), "apply", check=0)
    assert (project / RULES / "logging.mdc").exists()
    rulesync(tmp_path, "-C", str(project / "missing"), "status", check=2)


def test_outside_any_project_commands_say_to_run_init(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "apply", check=2)
    assert "rulesync init" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["init", "apply", "check", "status", "phase", "tiers", "lint"])
def test_help_names_the_exit_codes(tmp_path: Path, command: str) -> None:
    out = rulesync(tmp_path, command, "--help", check=0).stdout
    assert "exit codes:" in out and "2  invalid input" in out


def test_bad_usage_is_exit_2(tmp_path: Path) -> None:
    rulesync(tmp_path, "apply", "--bogus", check=2)
    rulesync(tmp_path, check=2)


def test_phase_on_a_marker_that_is_not_utf8_is_a_clear_error(project: Path) -> None:
    (project / ".rulesync.yaml").write_bytes(b"phase: b\xe4sic\n")
    proc = rulesync(project, "phase", check=2)
    assert "not UTF-8" in proc.stderr and "Traceback" not in proc.stderr
