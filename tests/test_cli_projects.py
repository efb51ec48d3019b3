"""`rulesync projects list`: the whole workstation at a glance, from the service's status when
it runs and computed otherwise; exit 1 when any project is not in sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.daemon import Daemon, new_project, wait_for
from support.repos import git, rulesync

RULES = Path(".cursor") / "rules"


def _listed(cwd: Path, code: int | None) -> dict[str, dict[str, Any]]:
    doc = json.loads(rulesync(cwd, "projects", "list", "--json", check=code).stdout)
    return {p["path"]: p for p in doc["projects"]}


@pytest.fixture
def daemon(daemon: Daemon, library: Path) -> Daemon:
    """The shared service, for a user whose default library is the small one."""
    return daemon


def test_every_state_is_computed_when_no_service_runs(tmp_path: Path, library: Path) -> None:
    synced = new_project(tmp_path / "synced", "advanced")
    rulesync(synced, "apply", check=0)
    drifting = new_project(tmp_path / "drifting")
    conflicted = new_project(tmp_path / "conflicted")
    rulesync(conflicted, "apply", check=0)
    (conflicted / RULES / "logging.mdc").write_text("mine\n")
    busy = new_project(tmp_path / "busy")
    rulesync(busy, "apply", check=0)
    (busy / ".rulesync.yaml").write_text("phase: advanced\n")
    (busy / ".git" / "MERGE_HEAD").write_text(git(busy, "rev-parse", "HEAD"))
    broken = new_project(tmp_path / "broken")
    (broken / ".rulesync.yaml").write_text("phase: platinum\n")

    listed = _listed(tmp_path, 1)

    assert listed[str(synced)]["state"] == "in sync"
    assert listed[str(synced)]["phase"] == "advanced" and listed[str(synced)]["tier"] == "advanced"
    assert listed[str(synced)]["last_commit"]["subject"].startswith("rulesync: install advanced")
    assert listed[str(synced)]["source"] == "computed"
    assert listed[str(drifting)]["state"] == "drift"
    assert listed[str(conflicted)]["state"] == "conflict"
    assert "logging.mdc" in listed[str(conflicted)]["why"]
    assert listed[str(busy)]["state"] == "deferred"
    assert listed[str(busy)]["why"].startswith("a merge is in progress")
    assert listed[str(broken)]["state"] == "failing"
    assert "unknown phase `platinum`" in listed[str(broken)]["why"]

    text = rulesync(tmp_path, "projects", "list", check=1).stdout
    assert f"{synced}  [in sync]" in text and f"{drifting}  [drift]" in text
    assert "5 project(s): 1 in sync, 1 drift, 1 conflict, 1 deferred, 1 failing" in text


def test_exit_0_when_every_project_is_in_sync(tmp_path: Path, library: Path) -> None:
    project = new_project(tmp_path / "p")
    rulesync(project, "apply", check=0)
    rulesync(tmp_path, "projects", check=0)
    assert _listed(tmp_path, 0)[str(project)]["state"] == "in sync"


def test_with_the_service_running_the_state_comes_from_its_status(
    tmp_path: Path, daemon: Daemon
) -> None:
    project = new_project(tmp_path / "p")
    daemon.start()
    # The service writes its status file after its first sync: wait for that record.
    wait_for("the service's record", lambda: _listed(tmp_path, None)[str(project)]["last_sync"])
    line = _listed(tmp_path, 0)[str(project)]
    assert line["source"] == "service" and line["state"] == "in sync"
    assert line["tier"] == "basic"
    assert line["last_commit"]["subject"] == "rulesync: install basic rules (+3)"
    doc = json.loads(rulesync(tmp_path, "projects", "--json", check=0).stdout)
    assert doc["service"] == {"running": True, "pid": daemon.pid}
