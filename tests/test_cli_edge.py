"""The command line's one error edge: exit codes, one-line messages, crash reports, and what
each command's help says its exit codes mean."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from rulesync.cli import guarded
from rulesync.errors import (
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_NOT_IN_SYNC,
    Deferred,
    FetchError,
    InvalidInput,
)
from rulesync.paths import log_dir
from support.repos import RULESYNC, rulesync

RULES = Path(".cursor") / "rules"


def _boom() -> int:
    # An ordinary bug: the edge must not mistake it for drift or bad input.
    settings = {"tier": 1}
    return settings["phase"]


def test_an_unexpected_exception_exits_3_naming_the_file_that_holds_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = guarded(_boom)

    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL == 3
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert err.startswith("rulesync: internal error (KeyError: 'phase')")
    (report,) = list(log_dir().glob("crash-*.log"))
    assert str(report) in err
    text = report.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "in _boom" in text and "KeyError: 'phase'" in text


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput("x.yaml:3: bad"), EXIT_INVALID),
        (Deferred("repo: deferred: a merge is in progress"), EXIT_NOT_IN_SYNC),
        (FetchError("library u: fetch failed: offline"), EXIT_NOT_IN_SYNC),
        (FileNotFoundError(2, "No such file or directory", "/x/y"), EXIT_INVALID),
    ],
)
def test_rulesync_errors_are_one_line_and_their_own_exit_code(
    capsys: pytest.CaptureFixture[str], error: Exception, code: int
) -> None:
    def fail() -> int:
        raise error

    assert guarded(fail) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("rulesync: ")
    assert not list(log_dir().glob("crash-*.log"))


def test_a_write_that_fails_midway_is_exit_1_not_nothing_changed(project: Path) -> None:
    # A real failed write: a file-size limit of one byte (as a full quota would), with
    # SIGXFSZ ignored so the write fails with EFBIG instead of killing the process.
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))

    proc = subprocess.run(
        [*RULESYNC, "apply"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=limit,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == EXIT_NOT_IN_SYNC, proc.stderr
    assert "the sync stopped before it finished" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The next run, without the limit, finishes it.
    rulesync(project, "apply", check=0)
    rulesync(project, "check", check=0)


def test_a_failed_library_fetch_is_exit_1_the_next_run_retries(tmp_path: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"library: file://{tmp_path}/nowhere.git#main\n")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / ".rulesync.yaml").write_text("phase: basic\n")
    proc = rulesync(tmp_path / "p", "check", check=1)
    assert "fetch failed" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "meaning"),
    [
        (["lint"], "1  an error was found"),
        (["diff"], "1  a difference"),
        (["doctor"], "1  a check reported FAIL"),
        (["check"], "1  drift"),
        (["apply"], "1  not in sync: a conflict left as it is, the sync deferred"),
        (["projects", "list"], "1  `list`: a project is not in sync"),
        (["service"], "2  invalid usage, no user service manager here"),
        (["daemon"], "2  invalid usage or config, or another service is already running"),
    ],
)
def test_each_command_help_says_what_its_exit_codes_mean(
    tmp_path: Path, argv: list[str], meaning: str
) -> None:
    out = rulesync(tmp_path, *argv, "--help", check=0).stdout
    assert "exit codes:" in out and meaning in out
    assert "3  internal error" in out and "\n  2  invalid " in out


def test_a_mistyped_command_is_usage_with_a_suggestion(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "aply", check=2)
    assert "did you mean `apply`?" in proc.stderr


def test_dash_c_to_a_missing_folder_says_it_does_not_exist(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "-C", str(tmp_path / "nope"), "status", check=2)
    assert proc.stderr.strip() == f"rulesync: -C {tmp_path / 'nope'}: does not exist"
