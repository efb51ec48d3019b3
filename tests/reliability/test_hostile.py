"""Hostile repositories, end to end: a repository crafted to make rulesync read or write
outside it is cloned with real `git clone`, then the real `rulesync` runs in the clone.

Every case is refused with a one-line message naming the offending file and no traceback;
nothing outside the clone changes (a sentinel folder and the user's library are compared
byte for byte before and after), nothing private is read (a unique string planted outside
never shows up in any output, in the clone's files or in its history), and rulesync makes
no commit. `apply --force` does not get past any of it. (The service's side is in
test_service.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.repos import rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import RULES
from tests.reliability.hostile import (
    CASES,
    COMMANDS,
    SECTION,
    Case,
    Outside,
    case_problems,
    check_cases,
    craft_and_clone,
    make_outside,
)


@pytest.fixture
def outside(tmp_path: Path) -> Outside:
    return make_outside(tmp_path / "outside")


def test_hostile_repositories_are_refused_and_nothing_outside_is_read_or_written(
    tmp_path: Path, outside: Outside, figures: Figures
) -> None:
    def problems_of(index: int, case: Case) -> list[str]:
        return case_problems(craft_and_clone(tmp_path, case, index, outside), case, outside)

    detail = "`git clone`d; " + ", ".join(" ".join(c) for c in COMMANDS)
    check_cases(figures, SECTION, CASES, problems_of, detail)


def test_a_forced_apply_replaces_a_symlinked_rule_without_writing_through_it(
    tmp_path: Path, outside: Outside
) -> None:
    case = next(c for c in CASES if "symlink to a private file" in c.name)
    clone = craft_and_clone(tmp_path, case, 99, outside)
    rulesync(clone, "apply", "--force", check=0)
    assert outside.private_file.read_bytes() == outside.secret + b"\n"
    rule = clone / RULES / "logging.mdc"
    assert not rule.is_symlink()
    assert rule.read_bytes() == (outside.user_library / "basic" / "logging.mdc").read_bytes()
    rulesync(clone, "check", check=0)
