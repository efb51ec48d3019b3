"""Exit codes are named once, in rulesync.errors: every command and the service return those
constants, never a bare number, so a code's meaning cannot drift between commands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.repos import REPO_ROOT

PACKAGE = REPO_ROOT / "rulesync"
SOURCES = sorted([*(PACKAGE / "commands").glob("*.py"), *(PACKAGE / "daemon").glob("*.py")])


def _literal_codes(path: Path) -> list[int]:
    """The lines of each `return N`, `return N if … else M`, `exit_code = N` and
    `EXIT_… = N` with a bare number."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        values: list[ast.expr] = []
        if isinstance(node, ast.Return) and node.value is not None:
            values = [node.value]
        elif isinstance(node, ast.Assign):
            names = [
                t.attr if isinstance(t, ast.Attribute) else getattr(t, "id", "")
                for t in node.targets
            ]
            if any(n == "exit_code" or n.startswith("EXIT_") for n in names):
                values = [node.value]
        for value in values:
            parts = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
            if any(isinstance(p, ast.Constant) and type(p.value) is int for p in parts):
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_commands_and_the_service_name_their_exit_codes_from_errors(path: Path) -> None:
    assert _literal_codes(path) == []


def test_the_check_finds_a_bare_exit_code(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text(
        "EXIT_FATAL = 1\n"
        "def run(ok):\n"
        "    self.exit_code = 0\n"
        "    return EXIT_OK if ok else 1\n"
        "def count():\n"
        "    return len([])\n"
    )
    assert sorted(_literal_codes(sample)) == [1, 3, 4]
