"""Projects nested in one repository keep their own history, and rulesync's commits name the
paths as git does."""

from __future__ import annotations

import json
from pathlib import Path

from support.repos import git, rulesync

API = "services/api"


def _two_projects(project: Path) -> Path:
    """The repository's top is a project (basic); services/api is one of its own (advanced)."""
    rulesync(project, "apply", check=0)
    rulesync(project, "init", API, "--nested", "--phase", "advanced", "--no-register", check=0)
    return project / API


def test_a_nested_projects_commit_lists_paths_from_the_repository_top(project: Path) -> None:
    _two_projects(project)
    body = git(project, "log", "-1", "--format=%b")
    shown = git(project, "show", "--name-status", "--format=", "HEAD")
    added = sorted(line for line in body.splitlines() if line.startswith("A "))
    assert f"A {API}/.cursor/rules/logging.mdc" in added
    assert all(f"A\t{line[2:]}" in shown for line in added)
    assert f"Rulesync-Project: {API}" in body.splitlines()
    root_body = git(project, "log", "-1", "--skip=1", "--author=rulesync", "--format=%b")
    assert "A .cursor/rules/logging.mdc" in root_body.splitlines()
    assert "Rulesync-Project" not in root_body


def test_log_status_and_projects_show_only_the_projects_own_commits(project: Path) -> None:
    api = _two_projects(project)
    root_log = rulesync(project, "log", check=0).stdout
    api_log = rulesync(api, "log", check=0).stdout
    assert "install basic rules" in root_log and "advanced" not in root_log
    assert "install advanced rules" in api_log and "basic" not in api_log
    assert (
        json.loads(rulesync(api, "log", "--json", check=0).stdout)[0]["trailers"][
            "Rulesync-Project"
        ]
        == API
    )
    root_status = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    api_status = json.loads(rulesync(api, "status", "--json", check=0).stdout)
    assert "basic" in root_status["last_commit"]["subject"]
    assert "advanced" in api_status["last_commit"]["subject"]
    for folder in (project, api):
        rulesync(project, "projects", "add", str(folder), check=0)
    listed = json.loads(rulesync(project, "projects", "list", "--json").stdout)["projects"]
    subjects = {line["path"]: line["last_commit"]["subject"] for line in listed}
    assert "basic" in subjects[str(project)] and "advanced" in subjects[str(api)]


def test_init_in_a_folder_of_a_project_is_refused_without_nested(project: Path) -> None:
    rulesync(project, "apply", check=0)
    sub = project / "services" / "web"
    sub.mkdir(parents=True)
    proc = rulesync(sub, "init", check=2)
    assert proc.stderr == (
        f"rulesync: {sub}: inside the project at {project} (its marker "
        f"{project / '.rulesync.yaml'}), which `rulesync apply` here already syncs; to make "
        "web a project of its own, nested in that one, pass --nested\n"
    )
    assert list(sub.iterdir()) == []
    rulesync(sub, "init", "--nested", "--no-register", check=0)
    assert (sub / ".rulesync.yaml").is_file()
