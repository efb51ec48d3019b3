"""`rulesync doctor`: each check judged on plain data, then the real command on real
registries, repositories and markers under the isolated user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rulesync import doctor
from rulesync.doctor import FAIL, OK, WARN, Check, InotifyLimits
from rulesync.units import Manager, ServiceStatus
from support.repos import git, rulesync

AUTHOR = ("rulesync", "rulesync@localhost")
SYSTEMD = Manager("systemd", Path("/home/u/.config/systemd/user/rulesync.service"), None)
NO_MANAGER = Manager("systemd", SYSTEMD.unit_path, "`systemctl --user show-environment`: no bus")


def state(
    manager: Manager = SYSTEMD,
    *,
    installed: bool = False,
    pid: int | None = None,
    manager_pid: int | None = None,
) -> ServiceStatus:
    return ServiceStatus(manager, installed, installed, None, None, pid, manager_pid)


def report(cwd: Path, *, check: int) -> dict[str, list[dict[str, str]]]:
    """`rulesync doctor --json`, with the checks grouped by name."""
    proc = rulesync(cwd, "doctor", "--json", check=check)
    grouped: dict[str, list[dict[str, str]]] = {}
    for item in json.loads(proc.stdout)["checks"]:
        grouped.setdefault(item["name"], []).append(item)
    return grouped


@pytest.fixture
def no_user_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user service manager, as in a container or CI (and on this machine)."""
    runtime = tmp_path / "empty-runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)


# --- judging plain data -------------------------------------------------------------------


def test_git_missing_fails_with_how_to_install_it() -> None:
    check = doctor.check_git(None)
    assert check.level == FAIL and "install git" in check.fix


@pytest.mark.parametrize(
    ("version", "level"),
    [
        ("git version 2.39.5", OK),
        ("git version 2.39.3 (Apple Git-146)", OK),
        ("git version 2.45.1.windows.1", OK),
        ("git version 2.20.1", WARN),
        ("something else", WARN),
    ],
)
def test_git_version_older_than_tested_warns(version: str, level: str) -> None:
    assert doctor.check_git(version).level == level


def test_no_commit_identity_warns_that_rulesync_falls_back_to_its_own() -> None:
    check = doctor.check_identity(None, AUTHOR)
    assert check.level == WARN
    assert "rulesync <rulesync@localhost>" in check.message
    assert "git config --global user.email" in check.fix
    assert doctor.check_identity(("Dev", "dev@example.com"), AUTHOR).level == OK


def test_inotify_limits_enough_for_the_registered_projects_pass() -> None:
    limits = InotifyLimits(max_watches=8192, max_instances=128, used_watches=10, used_instances=2)
    check = doctor.check_inotify(limits, projects=20, platform="linux")
    assert check.level == OK
    assert "needs up to 62" in check.message


def test_one_free_inotify_instance_is_enough_for_many_projects() -> None:
    # watchdog >= 7 shares one inotify instance per observer, so 100 projects need one.
    limits = InotifyLimits(
        max_watches=524288, max_instances=128, used_watches=100, used_instances=5
    )
    assert doctor.check_inotify(limits, projects=100, platform="linux").level == OK


def test_no_inotify_instance_left_warns_with_the_sysctl_fix() -> None:
    limits = InotifyLimits(
        max_watches=524288, max_instances=128, used_watches=100, used_instances=128
    )
    check = doctor.check_inotify(limits, projects=100, platform="linux")
    assert check.level == WARN
    assert "sudo sysctl -w" in check.fix and "fs.inotify.max_user_instances=1024" in check.fix
    assert "/etc/sysctl.d/" in check.fix


def test_inotify_watches_used_up_by_other_programs_warn() -> None:
    limits = InotifyLimits(
        max_watches=8192, max_instances=1024, used_watches=8190, used_instances=9
    )
    check = doctor.check_inotify(limits, projects=1, platform="linux")
    assert check.level == WARN and "fs.inotify.max_user_watches=524288" in check.fix


def test_inotify_is_not_a_concern_on_macos() -> None:
    assert doctor.check_inotify(None, projects=5, platform="darwin").level == OK


def test_service_running_under_the_manager_is_ok() -> None:
    assert doctor.check_service(state(installed=True, pid=42, manager_pid=42), 3).level == OK


def test_service_installed_but_not_running_fails_with_where_to_look() -> None:
    check = doctor.check_service(state(installed=True), 3)
    assert check.level == FAIL
    assert "journalctl --user -u rulesync" in check.fix
    assert "systemctl --user restart rulesync.service" in check.fix


def test_service_not_installed_warns_with_the_install_command() -> None:
    check = doctor.check_service(state(), 3)
    assert check.level == WARN and check.fix == "rulesync service install"
    assert "3 registered project(s)" in check.message


def test_daemon_started_by_hand_where_a_manager_exists_warns() -> None:
    check = doctor.check_service(state(pid=42), 3)
    assert check.level == WARN and "kill 42 && rulesync service install" in check.fix


def test_without_a_service_manager_a_daemon_started_by_hand_is_fine() -> None:
    assert doctor.check_service(state(NO_MANAGER, pid=42), 3).level == OK
    check = doctor.check_service(state(NO_MANAGER), 3)
    assert check.level == WARN and "nohup rulesync daemon" in check.fix


def test_check_line_puts_level_name_message_and_fix_on_one_line() -> None:
    line = Check("git", WARN, "git version 2.20.1: old", "upgrade git").line()
    assert line == "WARN git: git version 2.20.1: old  → fix: upgrade git"
    assert Check("git", OK, "git version 2.39.5").line() == "OK   git: git version 2.39.5"


# --- reading the machine --------------------------------------------------------------------


@pytest.mark.skipif(
    not Path("/proc/sys/fs/inotify/max_user_watches").exists(), reason="needs Linux inotify"
)
def test_inotify_usage_counts_a_real_watch_of_this_process(tmp_path: Path) -> None:
    from watchdog.observers.inotify import InotifyObserver

    before = doctor.read_inotify()
    assert before is not None
    assert before.max_watches == int(Path("/proc/sys/fs/inotify/max_user_watches").read_text())
    observer = InotifyObserver()
    observer.schedule(_Ignore(), str(tmp_path), recursive=False)
    observer.start()
    try:
        during = doctor.read_inotify()
        assert during is not None
        assert during.used_instances >= before.used_instances + 1
        assert during.used_watches >= before.used_watches + 1
        # The running service's own usage is part of what it needs, so it can be left out.
        mine = doctor.read_inotify(exclude_pid=os.getpid())
        assert mine is not None and mine.used_watches < during.used_watches
    finally:
        observer.stop()
        observer.join()


class _Ignore:
    def dispatch(self, event: object) -> None:
        pass


# --- the real command -----------------------------------------------------------------------


def test_doctor_on_a_fresh_user_warns_but_does_not_fail(
    tmp_path: Path, no_user_manager: None
) -> None:
    proc = rulesync(tmp_path, "doctor", check=0)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("OK   git: git version ")
    assert any(line.startswith("WARN identity:") for line in lines)
    assert any(line.startswith("WARN service: not running") for line in lines)
    assert "0 failure(s)" in proc.stdout


def test_doctor_sees_the_global_identity(tmp_path: Path, no_user_manager: None) -> None:
    git(tmp_path, "config", "--global", "user.name", "Dev User")
    git(tmp_path, "config", "--global", "user.email", "dev@example.com")
    checks = report(tmp_path, check=0)
    assert checks["identity"][0]["level"] == OK
    assert "Dev User <dev@example.com>" in checks["identity"][0]["message"]


def test_doctor_reports_a_vanished_project_with_the_command_that_removes_it(
    project: Path, tmp_path: Path, no_user_manager: None
) -> None:
    rulesync(project, "projects", "add", str(project), check=0)
    gone = tmp_path / "gone"
    shutil.copytree(project, gone)
    rulesync(gone, "projects", "add", str(gone), check=0)
    shutil.rmtree(gone)

    checks = report(tmp_path, check=0)

    (vanished,) = checks["project"]
    assert vanished["level"] == WARN
    assert f"{gone}: the folder no longer exists" == vanished["message"]
    assert vanished["fix"] == f"rulesync projects remove {gone}"
    # What the service watches: the registry's folder, the project's root and git dir (no
    # rules folder yet), the library and its three tier folders; nothing for the vanished one.
    assert "needs up to 7 watches for 2 project(s)" in checks["inotify"][0]["message"]


def test_doctor_fails_on_a_marker_that_does_not_load(
    project: Path, tmp_path: Path, no_user_manager: None
) -> None:
    rulesync(project, "projects", "add", str(project), check=0)
    (project / ".rulesync.yaml").write_text("phase: basic\nphsae: advanced\n")

    proc = rulesync(tmp_path, "doctor", check=1)

    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL marker: ") and "phsae" in line
    assert f"→ fix: edit {project / '.rulesync.yaml'}" in line
    assert "1 failure(s)" in proc.stdout


def test_doctor_fails_on_a_config_that_does_not_load(tmp_path: Path, no_user_manager: None) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("debounce: 5\n")
    checks = report(tmp_path, check=1)
    assert checks["config"][0]["level"] == FAIL
    assert "debounce" in checks["config"][0]["message"]


def test_doctor_flags_a_project_whose_sync_waits_for_a_rebase(
    project: Path, tmp_path: Path, no_user_manager: None
) -> None:
    rulesync(project, "projects", "add", str(project), check=0)
    # An interactive rebase stopped at `edit`: rulesync must wait until it is finished.
    env = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i 1s/^pick/edit/"}
    subprocess.run(
        ["git", "rebase", "-i", "HEAD~1"], cwd=project, env=env, capture_output=True, check=True
    )
    assert (project / ".git" / "rebase-merge").is_dir()

    checks = report(tmp_path, check=0)

    (waiting,) = checks["project"]
    assert waiting["level"] == WARN
    assert "sync deferred: a rebase is in progress" in waiting["message"]


def test_doctor_lists_conflicts_with_diff_and_force(
    project: Path, tmp_path: Path, no_user_manager: None
) -> None:
    rulesync(project, "init", check=0)  # applies and registers
    (project / ".cursor" / "rules" / "logging.mdc").write_text("my own logging rule\n")

    checks = report(tmp_path, check=0)

    (conflict,) = checks["project"]
    assert conflict["level"] == WARN
    assert "1 conflict(s) left alone: .cursor/rules/logging.mdc" in conflict["message"]
    assert f"rulesync -C {project} diff" in conflict["fix"]
    assert "apply --force" in conflict["fix"]


def test_doctor_json_holds_every_check_and_the_counts(
    tmp_path: Path, no_user_manager: None
) -> None:
    proc = rulesync(tmp_path, "doctor", "--json", check=0)
    doc = json.loads(proc.stdout)
    names = [c["name"] for c in doc["checks"]]
    assert names == ["git", "identity", "config", "inotify", "service", "registry"]
    assert all(set(c) == {"name", "level", "message", "fix"} for c in doc["checks"])
    assert doc["summary"][FAIL] == 0
    assert sum(doc["summary"].values()) == len(doc["checks"])


def test_doctor_sees_a_daemon_started_by_hand(tmp_path: Path, no_user_manager: None) -> None:
    # The pid file of a live process is what `running_pid` trusts.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        state_dir = Path(os.environ["XDG_STATE_HOME"]) / "rulesync"
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / "daemon.pid").write_text(f"{sleeper.pid}\n")
        checks = report(tmp_path, check=0)
        assert checks["service"][0]["level"] == OK
        assert f"running (pid {sleeper.pid}), started by hand" in checks["service"][0]["message"]
    finally:
        sleeper.kill()
        sleeper.wait()
