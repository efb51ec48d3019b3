"""The service units: rendered from `service/`, verified by systemd itself, parsed as plists;
and `rulesync service` where no user service manager is reachable (this container, CI)."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rulesync import units as unit_files
from rulesync.errors import InvalidInput
from support.env import snapshot
from support.repos import REPO_ROOT, rulesync

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
needs_systemd_analyze = pytest.mark.skipif(
    not os.access(SYSTEMD_ANALYZE, os.X_OK),
    reason=f"{SYSTEMD_ANALYZE} is not installed here (systemd's tools verify the unit)",
)
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="exercises the systemd user unit (Linux)"
)


def verify(unit_file: Path, tmp_path: Path, *targets: str, unit_path: Path | None = None) -> str:
    """`systemd-analyze --user verify`; returns everything it printed (it exits 0 on some
    warnings, so callers assert the output is empty)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    if unit_path is not None:
        env["SYSTEMD_UNIT_PATH"] = f"{unit_path}:"  # trailing colon: plus the usual folders
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "--user", "verify", *(targets or (str(unit_file),))],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, output
    return output


@pytest.fixture
def no_user_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A session with no user service manager: an empty runtime folder and no session bus,
    as in a container, CI or an SSH session without a login."""
    runtime = tmp_path / "empty-runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    return runtime


def unit_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# --- the systemd unit -----------------------------------------------------------------------


@needs_systemd_analyze
def test_rendered_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    text = unit_files.render("systemd")
    unit = tmp_path / "units" / unit_files.UNIT_NAME
    unit.parent.mkdir()
    unit.write_text(text)
    assert verify(unit, tmp_path) == ""


@needs_systemd_analyze
def test_enabled_unit_joins_the_session_without_an_ordering_cycle(tmp_path: Path) -> None:
    # As `systemctl --user enable` leaves it: default.target wants the unit.
    units = tmp_path / "units"
    (units / "default.target.wants").mkdir(parents=True)
    (units / unit_files.UNIT_NAME).write_text(unit_files.render("systemd"))
    (units / "default.target.wants" / unit_files.UNIT_NAME).symlink_to(f"../{unit_files.UNIT_NAME}")
    assert verify(units / unit_files.UNIT_NAME, tmp_path, "default.target", unit_path=units) == ""


@needs_systemd_analyze
def test_unit_quotes_paths_with_spaces_percent_and_dollar(tmp_path: Path) -> None:
    odd = tmp_path / "my tools 100% $HOME"
    (odd / "bin").mkdir(parents=True)
    program = odd / "bin" / "rulesync"
    program.symlink_to(unit_files.daemon_command()[0])
    spec = unit_files.UnitSpec(
        command=(str(program), "daemon", "--tag=$HOME"),
        path=f"{odd / 'bin'}:/usr/bin:/bin",
        environment=(("XDG_CONFIG_HOME", str(odd / "config")),),
    )
    text = unit_files.render_systemd_unit(
        unit_files.template_text(unit_files.SYSTEMD_TEMPLATE), spec
    )
    unit = tmp_path / unit_files.UNIT_NAME
    unit.write_text(text)
    # verify checks that ExecStart's program exists: wrong unescaping would point elsewhere.
    assert verify(unit, tmp_path) == ""
    assert "100%% $HOME/bin/rulesync" in text and "--tag=$$HOME" in text


def test_unit_holds_restart_limits_journal_and_the_absolute_daemon_command() -> None:
    lines = unit_lines(unit_files.render("systemd"))
    command = unit_files.daemon_command()
    assert os.path.isabs(command[0]) and os.access(command[0], os.X_OK)
    assert command[-1] == "daemon"
    assert "ExecStart=" + " ".join(command) in lines
    for setting in (
        "Restart=on-failure",
        "After=default.target",
        "WantedBy=default.target",
        "StandardOutput=journal",
        "StandardError=journal",
    ):
        assert setting in lines
    assert any(line.startswith("MemoryMax=") for line in lines)
    assert any(line.startswith("TasksMax=") for line in lines)
    assert not any("%h" in line for line in lines)


def test_unit_path_finds_git_and_carries_the_users_xdg_folders() -> None:
    lines = unit_lines(unit_files.render("systemd"))
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    (path_line,) = [line for line in lines if line.startswith("Environment=PATH=")]
    assert git_dir in path_line.removeprefix("Environment=PATH=").split(":")
    # conftest moved XDG_CONFIG_HOME: the service must read the same registry as this CLI.
    assert f"Environment=XDG_CONFIG_HOME={os.environ['XDG_CONFIG_HOME']}" in lines


def test_systemd_quote_escapes_specifiers_variables_and_quotes() -> None:
    assert unit_files.systemd_quote("/usr/bin/rulesync") == "/usr/bin/rulesync"
    assert unit_files.systemd_quote("/a b/rulesync") == '"/a b/rulesync"'
    assert unit_files.systemd_quote("/x%y/$HOME") == "/x%%y/$$HOME"
    assert unit_files.systemd_quote('say "hi"') == '"say \\"hi\\""'
    assert unit_files.systemd_quote("PATH=/a$b", variables=False) == "PATH=/a$b"


def test_a_line_break_in_a_path_is_refused_not_rendered() -> None:
    spec = unit_files.UnitSpec(command=("/opt/x\nExecStartPre=/bin/evil", "daemon"), path="/bin")
    template = unit_files.template_text(unit_files.SYSTEMD_TEMPLATE)
    with pytest.raises(InvalidInput):
        unit_files.render_systemd_unit(template, spec)


def test_unit_files_in_service_are_the_templates_the_package_renders() -> None:
    for name in (unit_files.SYSTEMD_TEMPLATE, unit_files.LAUNCHD_TEMPLATE):
        assert unit_files.template_text(name) == (REPO_ROOT / "service" / name).read_text()
        assert unit_files.OWNER_MARK in unit_files.template_text(name)


# --- the launchd agent ----------------------------------------------------------------------


def test_plist_parses_and_holds_the_required_keys() -> None:
    spec = unit_files.current_spec("launchd")
    text = unit_files.render_launchd_plist(
        unit_files.template_text(unit_files.LAUNCHD_TEMPLATE), spec
    )
    agent = plistlib.loads(text.encode("utf-8"))
    assert agent["Label"] == "com.rulesync.daemon"
    assert agent["ProgramArguments"] == list(unit_files.daemon_command())
    assert os.path.isabs(agent["ProgramArguments"][0])
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    path = agent["EnvironmentVariables"]["PATH"].split(":")
    assert git_dir in path and "/opt/homebrew/bin" in path
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert os.path.isabs(agent[key]) and agent[key].startswith(spec.log_dir)


def test_plist_escapes_xml_in_paths() -> None:
    spec = unit_files.UnitSpec(
        command=("/Users/a&b/<bin>/rulesync", "daemon"), path="/opt/a&b:/usr/bin", log_dir="/l&g"
    )
    text = unit_files.render_launchd_plist(
        unit_files.template_text(unit_files.LAUNCHD_TEMPLATE), spec
    )
    agent = plistlib.loads(text.encode("utf-8"))
    assert agent["ProgramArguments"] == ["/Users/a&b/<bin>/rulesync", "daemon"]
    assert agent["EnvironmentVariables"]["PATH"] == "/opt/a&b:/usr/bin"
    assert agent["StandardErrorPath"] == "/l&g/launchd.err.log"


# --- rulesync service, with no user service manager -----------------------------------------


@linux_only
def test_install_without_a_service_manager_says_how_to_run_the_daemon_and_writes_nothing(
    isolated_user: Path, no_user_manager: Path, tmp_path: Path
) -> None:
    before = snapshot(isolated_user, skip_git=False)
    proc = rulesync(tmp_path, "service", "install", check=2)
    assert "no user service manager is reachable" in proc.stderr
    assert "nothing was installed" in proc.stderr
    assert "rulesync daemon" in proc.stderr and "nohup" in proc.stderr
    assert snapshot(isolated_user, skip_git=False) == before
    assert not (isolated_user / ".config" / "systemd").exists()


@linux_only
def test_install_dry_run_prints_the_unit_and_commands_and_changes_nothing(
    isolated_user: Path, no_user_manager: Path, tmp_path: Path
) -> None:
    before = snapshot(isolated_user, skip_git=False)
    proc = rulesync(tmp_path, "service", "install", "--dry-run", check=0)
    unit = isolated_user / ".config" / "systemd" / "user" / unit_files.UNIT_NAME
    assert f"would write {unit} (new)" in proc.stdout
    assert "ExecStart=" + " ".join(unit_files.daemon_command()) in proc.stdout
    assert "systemctl --user enable rulesync.service" in proc.stdout
    assert "no user service manager is reachable" in proc.stdout
    assert snapshot(isolated_user, skip_git=False) == before


@linux_only
def test_status_reports_not_installed_and_not_running(
    no_user_manager: Path, tmp_path: Path
) -> None:
    proc = rulesync(tmp_path, "service", "status", check=0)
    assert "not reachable" in proc.stdout
    assert "(not installed)" in proc.stdout
    assert "daemon:   not running" in proc.stdout


@linux_only
def test_uninstall_removes_our_unit_and_its_enablement_link_and_nothing_else(
    isolated_user: Path, no_user_manager: Path, tmp_path: Path
) -> None:
    units = isolated_user / ".config" / "systemd" / "user"
    units.mkdir(parents=True)
    (units / "other.service").write_text("[Service]\nExecStart=/bin/true\n")
    before = snapshot(isolated_user, skip_git=False)
    # As install left it: the unit, and the link (and folder) `systemctl enable` made.
    (units / "default.target.wants").mkdir()
    (units / unit_files.UNIT_NAME).write_text(unit_files.render("systemd"))
    (units / "default.target.wants" / unit_files.UNIT_NAME).symlink_to(units / unit_files.UNIT_NAME)

    proc = rulesync(tmp_path, "service", "uninstall", check=0)

    assert f"removed {units / unit_files.UNIT_NAME}" in proc.stdout
    assert snapshot(isolated_user, skip_git=False) == before
    again = rulesync(tmp_path, "service", "uninstall", check=0)
    assert "not installed" in again.stdout


@linux_only
def test_uninstall_and_install_leave_a_unit_they_did_not_write_alone(
    isolated_user: Path, no_user_manager: Path, tmp_path: Path
) -> None:
    unit = isolated_user / ".config" / "systemd" / "user" / unit_files.UNIT_NAME
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/usr/local/bin/my-own-rulesync\n")
    proc = rulesync(tmp_path, "service", "uninstall", check=2)
    assert "was not written by rulesync" in proc.stderr
    proc = rulesync(tmp_path, "service", "install", "--dry-run", check=2)
    assert "was not written by rulesync" in proc.stderr
    assert unit.read_text() == "[Service]\nExecStart=/usr/local/bin/my-own-rulesync\n"


def test_undo_after_a_failed_step_removes_the_new_unit_and_the_folders_it_made(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    before = snapshot(home, skip_git=False)
    unit = home / ".config" / "systemd" / "user" / unit_files.UNIT_NAME
    undo = unit_files.Undo()
    unit_files.write_unit(unit, unit_files.render("systemd"), undo)
    assert unit.is_file()
    undo.run()  # what install does when systemctl then fails
    assert snapshot(home, skip_git=False) == before


def test_undo_after_a_failed_step_puts_the_previous_unit_back(tmp_path: Path) -> None:
    unit = tmp_path / "user" / unit_files.UNIT_NAME
    unit.parent.mkdir()
    old = unit_files.render("systemd").replace("MemoryMax=512M", "MemoryMax=1G")
    unit.write_text(old)
    undo = unit_files.Undo()
    unit_files.write_unit(unit, unit_files.render("systemd"), undo)
    assert unit.read_text() != old
    undo.run()
    assert unit.read_text() == old
    assert sorted(p.name for p in unit.parent.iterdir()) == [unit_files.UNIT_NAME]
