"""Each command's --help lists every exit code it can return, once, and no other; `service
status` speaks JSON like every other read command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rulesync.arguments import build_parser
from support.repos import rulesync

# The codes each command can return: 2 (usage, invalid input) and 3 (a bug) for all; 1 where
# the command can find something out of sync, or something that failed for the next run.
CODES = {
    "init": {0, 1, 2, 3},
    "apply": {0, 1, 2, 3},
    "check": {0, 1, 2, 3},
    "diff": {0, 1, 2, 3},
    "status": {0, 1, 2, 3},  # a library fetch, git reading the log
    "phase": {0, 1, 2, 3},
    "tiers": {0, 1, 2, 3},  # a library fetch
    "lint": {0, 1, 2, 3},
    "explain": {0, 1, 2, 3},  # a library fetch
    "readiness": {0, 1, 2, 3},  # a library fetch
    "log": {0, 1, 2, 3},  # git reading the log
    "projects": {0, 1, 2, 3},
    "projects list": {0, 1, 2, 3},
    "projects add": {0, 2, 3},
    "projects remove": {0, 2, 3},
    "daemon": {0, 1, 2, 3},
    "service": {0, 2, 3},
    "doctor": {0, 1, 2, 3},
    "library": {0, 1, 2, 3},  # a library fetch, a commit
    "import": {0, 1, 2, 3},  # lint finds an error in what was written
    "fleet": {0, 1, 2, 3},  # a repository behind, drifted or unreachable
}
READ_ONLY = ("status", "tiers", "explain", "readiness", "log", "doctor")


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return capsys.readouterr().out


def test_every_command_is_in_the_table() -> None:
    parser = build_parser()
    listed = re.findall(r"^    (\w+) ", parser.format_help(), re.MULTILINE)
    assert {c for c in CODES if " " not in c} == set(listed)


@pytest.mark.parametrize("command", sorted(CODES))
def test_help_lists_each_exit_code_once_and_only_those_it_can_return(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _help(command.split(), capsys)
    table = shown[shown.index("exit codes:") :]
    codes = [int(code) for code in re.findall(r"^  (\d+)  ", table, re.MULTILINE)]
    assert sorted(codes) == sorted(CODES[command]), table


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_commands_help_speaks_of_no_commit(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "commit that failed" not in _help([command], capsys)


def test_service_status_prints_json(tmp_path: Path) -> None:
    doc = json.loads(rulesync(tmp_path, "service", "status", "--json", check=0).stdout)
    assert doc["pid"] is None
    assert set(doc) >= {"manager", "reachable", "unit", "installed", "enabled", "active"}
    alone = json.loads(rulesync(tmp_path, "service", "--json", check=0).stdout)
    assert alone == doc


def test_service_install_with_json_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "service", "install", "--json", check=2)
    assert "only `status` prints JSON" in proc.stderr
