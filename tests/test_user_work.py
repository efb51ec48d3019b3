"""Never lose a user's work (SPEC §3 item 3): own files, edits, deletions, exclude, --force."""

from __future__ import annotations

from pathlib import Path

from support.repos import git, rulesync, rulesync_commits

RULES = Path(".cursor/rules")


def set_phase(project: Path, phase: str) -> None:
    (project / ".rulesync.yaml").write_text(f"phase: {phase}\n")


def test_hand_written_rule_survives_every_phase_change(project: Path) -> None:
    mine = project / RULES / "mine.mdc"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"---\ndescription: my own\n---\nkeep me\n")
    for phase in ("basic", "enterprise", "advanced", "basic", "enterprise"):
        set_phase(project, phase)
        rulesync(project, "apply", check=0)
        assert mine.read_bytes() == b"---\ndescription: my own\n---\nkeep me\n"
    committed = git(project, "log", "--author=rulesync", "--name-only", "--format=")
    assert "mine.mdc" not in committed


def test_user_edited_managed_file_is_a_conflict_until_force_saves_it(project: Path) -> None:
    rulesync(project, "apply", check=0)
    logging_rule = project / RULES / "logging.mdc"
    logging_rule.write_text("my tuned logging rule\n")
    set_phase(project, "advanced")
    proc = rulesync(project, "apply", check=1)
    assert "logging.mdc: was edited since rulesync wrote it" in proc.stdout
    assert "conflict" in proc.stderr and "--force" in proc.stderr
    assert logging_rule.read_text() == "my tuned logging rule\n"
    assert (project / RULES / "monitoring.mdc").exists()  # the rest applied
    assert rulesync(project, "check").returncode == 1

    proc = rulesync(project, "apply", "--force", check=0)
    saved = [
        line.split("saved your version to ", 1)[1]
        for line in proc.stdout.splitlines()
        if "saved your version to" in line
    ]
    assert len(saved) == 1
    assert Path(saved[0]).read_text() == "my tuned logging rule\n"
    assert "structlog" in logging_rule.read_text()
    rulesync(project, "check", check=0)


def test_unmanaged_file_with_a_rules_name_is_kept(project: Path) -> None:
    (project / RULES).mkdir(parents=True)
    (project / RULES / "privacy.mdc").write_text("the team's own privacy rule\n")
    rulesync(project, "apply", check=1)
    assert (project / RULES / "privacy.mdc").read_text() == "the team's own privacy rule\n"
    assert "privacy.mdc" not in git(project, "show", "--name-only", "--format=", "HEAD")


def test_deleted_managed_file_comes_back_without_a_commit(project: Path) -> None:
    rulesync(project, "apply", check=0)
    commits = rulesync_commits(project)
    (project / RULES / "testing.mdc").unlink()
    assert rulesync(project, "check").returncode == 1
    rulesync(project, "apply", check=0)
    assert (project / RULES / "testing.mdc").exists()
    assert rulesync_commits(project) == commits
    assert git(project, "status", "--porcelain") == ""


def test_exclude_drops_a_rule_and_deletes_its_managed_copy(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / ".rulesync.yaml").write_text("phase: basic\nexclude: [testing]\n")
    rulesync(project, "apply", check=0)
    assert not (project / RULES / "testing.mdc").exists()
    assert rulesync_commits(project)[0] == "rulesync: update basic rules (-1)"
    rulesync(project, "check", check=0)


def test_exclude_of_an_unknown_rule_is_an_error(project: Path) -> None:
    (project / ".rulesync.yaml").write_text("phase: basic\nexclude: [tesitng]\n")
    proc = rulesync(project, "apply", check=2)
    assert "tesitng" in proc.stderr and ".rulesync.yaml:2" in proc.stderr


def test_edited_rule_leaving_the_tier_is_handed_to_the_user(project: Path) -> None:
    set_phase(project, "advanced")
    rulesync(project, "apply", check=0)
    (project / RULES / "monitoring.mdc").write_text("edited\n")
    set_phase(project, "basic")
    proc = rulesync(project, "apply", check=0)
    assert "monitoring.mdc (you edited it: left in place, now yours)" in proc.stdout
    assert (project / RULES / "monitoring.mdc").read_text() == "edited\n"
    rulesync(project, "check", check=0)
    rulesync(project, "apply", "--force", check=0)
    assert (project / RULES / "monitoring.mdc").read_text() == "edited\n"
