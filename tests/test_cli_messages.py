"""What the commands tell a new user: every message true, typed values blamed as typed, and the
behaviour git-like tools lead them to expect."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.repos import git, make_repo, rulesync

RULES = Path(".cursor") / "rules"


def _conflict(project: Path) -> None:
    rulesync(project, "apply", check=0)
    with (project / RULES / "logging.mdc").open("a") as handle:
        handle.write("my own line\n")


def test_apply_with_a_conflict_says_so_in_its_headline(project: Path) -> None:
    _conflict(project)
    dry = rulesync(project, "apply", "--dry-run", check=1).stdout.splitlines()[0]
    assert dry == "basic: +0 ~0 -0, 1 conflict(s) (dry run, nothing written)"
    proc = rulesync(project, "apply", check=1)
    first = proc.stdout.splitlines()[0]
    assert first == "not in sync: basic: 1 conflict(s) left as they are"
    assert "in sync: basic" not in proc.stdout.replace("not in sync", "")


def test_check_on_a_conflict_points_to_diff_exclude_and_force(project: Path) -> None:
    _conflict(project)
    out = rulesync(project, "check", check=1).stdout
    assert "`rulesync diff`" in out and "exclude: [logging]" in out
    assert "`rulesync apply --force`" in out
    assert "run `rulesync apply` to sync" not in out


def test_a_phase_typed_on_the_command_line_is_blamed_as_typed_with_a_suggestion(
    project: Path,
) -> None:
    proc = rulesync(project, "phase", "advnced", check=2)
    assert proc.stderr.startswith("rulesync: rulesync phase advnced: unknown phase `advnced`")
    assert "did you mean `advanced`?" in proc.stderr
    assert ".rulesync.yaml" not in proc.stderr
    assert (project / ".rulesync.yaml").read_text() == "phase: basic\n"


def test_init_with_a_mistyped_phase_blames_the_option_and_creates_nothing(
    tmp_path: Path, library: Path
) -> None:
    folder = tmp_path / "new" / "app"
    proc = rulesync(tmp_path, "init", str(folder), "--phase", "advnced", check=2)
    assert "--phase: unknown phase `advnced` (did you mean `advanced`?)" in proc.stderr
    assert not (tmp_path / "new").exists()


def test_init_creates_a_missing_folder_as_git_init_does_and_says_so(
    isolated_user: Path, library: Path
) -> None:
    folder = isolated_user / "code" / "my-app"
    proc = rulesync(isolated_user, "init", "~/code/my-app", check=0)
    assert f"created {folder} (a new git repository)" in proc.stdout
    assert (folder / ".rulesync.yaml").is_file()
    assert (folder / RULES / "logging.mdc").is_file()
    # The new repository holds the rules' first commit, as the quick start promises.
    subjects = git(folder, "log", "--format=%s").splitlines()
    assert len(subjects) == 1
    assert subjects[0].startswith("rulesync: install basic rules")


def test_init_of_a_new_folder_inside_a_repository_makes_no_nested_repository(
    repo: Path, library: Path
) -> None:
    proc = rulesync(repo, "init", "sub/app", check=0)
    assert f"created {repo / 'sub' / 'app'}\n" in proc.stdout
    assert not (repo / "sub" / "app" / ".git").exists()


def test_init_without_a_service_says_nothing_syncs_it_by_itself(repo: Path, library: Path) -> None:
    out = rulesync(repo, "init", check=0).stdout
    assert f"registered {repo}: no service is running" in out
    assert "registered with the rulesync service" not in out


def test_a_deferred_apply_says_what_will_happen_and_status_shows_the_deferral(
    project: Path,
) -> None:
    (project / ".git" / "MERGE_HEAD").write_text(git(project, "rev-parse", "HEAD"))
    proc = rulesync(project, "apply", check=1)
    assert "deferred: a merge is in progress" in proc.stderr
    assert "nothing was changed; no running service watches it" in proc.stderr
    assert "will sync once it is done" not in proc.stderr
    assert not (project / RULES).exists()
    status = rulesync(project, "status", check=0).stdout
    assert "deferred: a merge is in progress" in status
    doc = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    assert doc["deferred"].startswith("a merge is in progress")


def test_verbose_phase_logs_the_sync_with_the_services_keys(project: Path) -> None:
    rulesync(project, "apply", check=0)
    proc = rulesync(project, "-v", "phase", "advanced", check=0)
    (line,) = [x for x in proc.stderr.splitlines() if "event=sync.applied" in x]
    assert "added=2" in line and "updated=1" in line and "deleted=0" in line
    assert " add=" not in line


def test_log_n_0_prints_nothing_and_the_text_log_shows_the_trailers(project: Path) -> None:
    rulesync(project, "apply", check=0)
    assert rulesync(project, "log", "-n", "0", check=0).stdout == ""
    assert json.loads(rulesync(project, "log", "-n", "0", "--json", check=0).stdout) == []
    out = rulesync(project, "log", check=0).stdout
    assert "rulesync: install basic rules (+3)" in out
    assert "    Rulesync-Phase: basic" in out and "    Rulesync-Library: " in out


def test_diff_json_is_one_document_with_each_file_diff(project: Path) -> None:
    doc = json.loads(rulesync(project, "diff", "--json", check=1).stdout)
    assert doc["tier"] == "basic" and doc["in_sync"] is False
    files = {f["path"]: f for f in doc["files"]}
    assert files[".cursor/rules/logging.mdc"]["action"] == "add"
    assert "+Use the logging module." in files[".cursor/rules/logging.mdc"]["diff"]
    rulesync(project, "apply", check=0)
    assert json.loads(rulesync(project, "diff", "--json", check=0).stdout)["files"] == []


def test_projects_alone_lists_and_add_of_a_missing_folder_says_it_does_not_exist(
    project: Path, tmp_path: Path
) -> None:
    rulesync(project, "projects", "add", str(project), check=0)
    assert str(project) in rulesync(tmp_path, "projects", check=1).stdout
    missing = tmp_path / "does" / "not" / "exist"
    proc = rulesync(tmp_path, "projects", "add", str(missing), check=2)
    assert f"{missing}: does not exist" in proc.stderr
    help_text = rulesync(tmp_path, "projects", "add", "--help", check=0).stdout
    assert "PATH" in help_text and "the project folder" in help_text
    help_text = rulesync(tmp_path, "projects", "remove", "--help", check=0).stdout
    assert "PATH" in help_text and "the project folder" in help_text


def test_service_without_an_action_shows_its_state_and_the_actions(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "service", check=0)
    assert "daemon:   not running" in proc.stdout
    assert "`rulesync service install`" in proc.stdout
    assert "required" not in proc.stderr


def test_readiness_explains_each_policy_and_hints_at_metrics(project: Path) -> None:
    out = rulesync(project, "readiness", check=0).stdout
    assert "no metrics in .rulesync.yaml yet: add the project's figures under `metrics:`" in out
    assert (
        "enterprise: not yet — needs 1 of its 2 group(s) (technical, business); "
        "a group counts when all of its criteria are met" in out
    )
    assert "group technical: not met (0 of 2 criteria met, 2 needed)" in out


def test_a_metric_error_names_its_line_and_the_closest_metric(project: Path) -> None:
    (project / ".rulesync.yaml").write_text(
        "phase: basic\nmetrics:\n  developers: 3\n  multi_regoin: true\n"
    )
    proc = rulesync(project, "readiness", check=2)
    marker = project / ".rulesync.yaml"
    assert f"{marker}:4: unknown metric `multi_regoin` (did you mean `multi_region`?)" in (
        proc.stderr
    )
    (project / ".rulesync.yaml").write_text("phase: basic\nmetrics:\n  developers: many\n")
    proc = rulesync(project, "apply", check=2)
    assert f"{marker}:3: metric `developers` must be a number" in proc.stderr


def test_tiers_shows_descriptions_globs_and_the_current_tier(project: Path, library: Path) -> None:
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    out = rulesync(project, "tiers", check=0).stdout
    assert "advanced (extends basic): a small team  ← this project's tier" in out
    assert "basic: one developer\n" in out
    assert "      tests; globs: tests/**/*.py" in out
    doc = json.loads(rulesync(project, "tiers", "--json", check=0).stdout)
    assert doc["current"] == "advanced"
    relative = os.path.relpath(library, project)
    out = rulesync(project, "tiers", "--library", relative, check=0).stdout
    assert out.splitlines()[0] == f"library: {relative} ({library})"
    proc = rulesync(project, "tiers", "--library", "nowhere", check=2)
    assert f"{project / 'nowhere'} does not exist" in proc.stderr


def test_projects_list_and_doctor_describe_a_deleted_folder_alike(
    project: Path, tmp_path: Path
) -> None:
    gone = make_repo(tmp_path / "gone")
    (gone / ".rulesync.yaml").write_text("phase: basic\n")
    rulesync(gone, "projects", "add", str(gone), check=0)
    for folder in (gone,):
        os.rename(folder, tmp_path / "elsewhere")
    listed = json.loads(rulesync(tmp_path, "projects", "list", "--json", check=1).stdout)
    (line,) = listed["projects"]
    assert line["state"] == "missing" and line["why"] == "the folder no longer exists"
    doctor = json.loads(rulesync(tmp_path, "doctor", "--json").stdout)
    messages = [c["message"] for c in doctor["checks"] if c["name"] == "project"]
    assert messages == [f"{gone}: the folder no longer exists"]
