"""`rulesync status` says what really keeps a project in sync: whether the service serves it
at all."""

from __future__ import annotations

import json
from pathlib import Path

from support.daemon import Daemon
from support.repos import rulesync


def test_status_of_an_unregistered_project_says_the_service_never_syncs_it(
    project: Path, daemon: Daemon
) -> None:
    rulesync(project, "apply", check=0)
    daemon.start()
    out = rulesync(project, "status", check=0).stdout
    assert (
        f"service:  running (pid {daemon.pid}), but this project is not registered, so the "
        f"service never syncs it: `rulesync projects add {project}` registers it"
    ) in out
    assert "last synced" not in out
    doc = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    assert doc["registered"] is False
    assert doc["service"]["running"] is True


def test_status_of_a_registered_project_says_when_the_service_synced_it(
    project: Path, daemon: Daemon
) -> None:
    rulesync(project.parent, "projects", "add", str(project), check=0)
    daemon.start()
    out = rulesync(project, "status", check=0).stdout
    assert f"service:  running (pid {daemon.pid}), last synced this project: " in out
    assert "not registered" not in out
    assert json.loads(rulesync(project, "status", "--json", check=0).stdout)["registered"]


def test_status_without_a_service_still_says_the_project_is_not_registered(
    project: Path,
) -> None:
    out = rulesync(project, "status", check=0).stdout
    assert (
        "service:  not running (`rulesync service install` or `rulesync daemon`), and this "
        f"project is not registered: `rulesync projects add {project}` registers it"
    ) in out
