"""The command line parses each command's own arguments, though only the command run has its
parser built."""

from __future__ import annotations

import argparse

import pytest

from rulesync.arguments import EXITS, build_parser
from rulesync.cli import QUICK_FLAGS, quick_arguments


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["-C", "x", "-v", "check", "--json"],
            {"command": "check", "chdir": "x", "verbose": 1, "json": True},
        ),
        (
            ["init", "dir", "--phase", "basic", "--no-register"],
            {"command": "init", "path": "dir", "phase": "basic", "no_register": True},
        ),
        (
            ["apply", "--dry-run", "--no-commit", "--force", "--update", "--accept-rewrite"],
            {"command": "apply", "dry_run": True, "no_commit": True, "accept_rewrite": True},
        ),
        (
            ["phase", "advanced", "--no-apply"],
            {"command": "phase", "new": "advanced", "no_apply": True},
        ),
        (["tiers", "--library", "default"], {"command": "tiers", "library": "default"}),
        (["lint", "lib", "--strict"], {"command": "lint", "path": "lib", "strict": True}),
        (
            ["explain", "src/a.py", "--tier", "basic"],
            {"command": "explain", "path": "src/a.py", "tier": "basic"},
        ),
        (["log", "-n", "3"], {"command": "log", "max_count": 3, "json": False}),
        (["projects", "add", "p"], {"command": "projects", "action": "add", "path": "p"}),
        (["projects", "list", "--json"], {"command": "projects", "action": "list", "json": True}),
        (
            ["service", "install", "--dry-run"],
            {"command": "service", "action": "install", "dry_run": True},
        ),
        (["daemon"], {"command": "daemon", "verbose": 0}),
    ],
)
def test_each_command_parses_its_own_arguments(
    argv: list[str], expected: dict[str, object]
) -> None:
    args = build_parser().parse_args(argv)
    assert {key: getattr(args, key) for key in expected} == expected


def test_the_top_help_lists_every_command_and_an_unknown_one_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    listed = parser.format_help()
    assert all(f"\n    {name} " in listed for name in EXITS)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["chek"])
    assert exit_info.value.code == 2
    assert "did you mean `check`?" in capsys.readouterr().err


def test_a_command_option_is_refused_on_another_command() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["check", "--dry-run"])
    assert isinstance(build_parser().parse_args(["apply", "--dry-run"]), argparse.Namespace)


@pytest.mark.parametrize("columns", [50, 72, 160])
def test_help_wraps_to_the_terminal_width(
    columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["apply", "--help"])
    shown = capsys.readouterr().out
    options = shown[shown.index("options:") : shown.index("exit codes:")].splitlines()
    # argparse keeps two columns free; at 160 columns every option's help fits on its line.
    assert max(len(line) for line in options) <= columns - 2
    wrapped = any(line.startswith(" " * 10) for line in options)
    assert wrapped == (columns < 100)


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["check", "--json", "--verbose"],
        ["-C", "x", "-v", "--verbose", "check", "--verbose"],
        ["-C", "x", "-C", "check", "apply"],
        ["apply"],
        ["apply", "--dry-run", "--no-commit", "--force", "--update", "--accept-rewrite", "--json"],
        ["-v", "apply", "--force", "--force"],
    ],
)
def test_a_plain_check_or_apply_is_read_as_argparse_reads_it(argv: list[str]) -> None:
    quick = quick_arguments(argv)
    assert quick is not None
    assert vars(quick) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["check", "-h"],
        ["--version"],
        ["status"],
        ["apply", "--dry"],  # argparse's abbreviation
        ["-vv", "check"],
        ["-C"],
        ["-C", "-x", "check"],
        ["check", "-v"],  # a global option after the command: argparse says where it goes
        ["check", "--json=1"],
        ["--json", "check"],
        ["check", "--", "x"],
        ["check", "--update"],  # apply's flag
    ],
)
def test_anything_else_is_left_to_argparse_and_its_messages(argv: list[str]) -> None:
    assert quick_arguments(argv) is None


@pytest.mark.parametrize("command", sorted(QUICK_FLAGS))
def test_the_quick_reader_knows_every_option_of_its_commands(command: str) -> None:
    parser = build_parser()
    parser.parse_args([command])  # builds the command's own parser
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = {
        option: action.dest
        for action in sub._name_parser_map[command]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    assert options == QUICK_FLAGS[command]
