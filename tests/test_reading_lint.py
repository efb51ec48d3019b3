"""What changes on the way from a Cursor rule to the other assistants' files is a lint
finding: a glob their dialect cannot say, a Cursor-only `mdc:` link (made plain for them),
a second front-matter block. The real `rulesync lint` on real files."""

from __future__ import annotations

import json
from pathlib import Path

from rulesync.targets import SourceRule, render_all
from tests.conftest import rulesync


def findings(tmp_path: Path, text: str) -> list[str]:
    rule = tmp_path / "rule.mdc"
    rule.write_text(text)
    doc = json.loads(rulesync(tmp_path, "lint", "--json", str(rule), check=None).stdout)
    return [f["message"] for f in doc["files"][0]["findings"]]


def test_a_glob_no_rooted_dialect_can_say_is_a_warning_naming_the_tools(tmp_path: Path) -> None:
    [message] = findings(tmp_path, "---\nglobs: !vendor/**\n---\nNot vendored code.\n")
    assert "`!vendor/**`" in message and "untranslatable" in message
    assert "Claude Code" in message and "Copilot" in message


def test_a_translatable_bare_glob_is_no_finding(tmp_path: Path) -> None:
    assert findings(tmp_path, "---\nglobs: *.py, Dockerfile\n---\nPython.\n") == []


def test_an_mdc_link_is_reported_and_made_plain_for_the_other_targets(tmp_path: Path) -> None:
    text = "---\nalwaysApply: true\n---\nSee [the API](mdc:src/api.py) first.\n"
    [message] = findings(tmp_path, text)
    assert "`mdc:` link to src/api.py" in message
    rendered = render_all(["claude", "agents"], [SourceRule("r.mdc", text.encode())])
    assert rendered["claude"].files[".claude/rules/r.md"] == b"See [the API](/src/api.py) first.\n"
    assert b"(mdc:" not in rendered["agents"].blocks["AGENTS.md"]


def test_a_second_front_matter_block_is_a_finding(tmp_path: Path) -> None:
    text = "---\nalwaysApply: true\n---\n---\ndescription: again\n---\nBody.\n"
    assert any("second front-matter block" in m for m in findings(tmp_path, text))
