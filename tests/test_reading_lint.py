"""What changes on the way from a Cursor rule to the other assistants' files is a lint
finding: a glob their dialect cannot say, a Cursor-only `mdc:` link (made plain for them),
a second front-matter block. The real `rulesync lint` on real files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rulesync.targets import SourceRule, render_all
from support.repos import rulesync


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


def _two_tier_library(root: Path) -> Path:
    (root / "basic").mkdir(parents=True)
    (root / "more").mkdir()
    (root / "basic" / "style.mdc").write_text("---\nalwaysApply: true\n---\nWrite clearly.\n")
    (root / "more" / "py.mdc").write_text("---\nglobs: **/*.py\n---\nType hints.\n")
    (root / "tiers.yaml").write_text(
        "tiers:\n  - name: basic\n  - name: more\n    extends: basic\n"
    )
    return root


def _tiers_warnings(proc_stdout: str) -> list[str]:
    doc = json.loads(proc_stdout)
    [tiers] = [f for f in doc["files"] if f["path"].endswith("tiers.yaml")]
    return [f["message"] for f in tiers["findings"]]


def test_lint_says_per_tier_which_assistant_would_load_a_rule_twice_as_apply_does(
    tmp_path: Path, repo: Path
) -> None:
    library = _two_tier_library(tmp_path / "lib")
    proc = rulesync(tmp_path, "lint", "--json", "--targets", "cursor,agents", str(library))
    found = _tiers_warnings(proc.stdout)
    assert [m.split(":", 1)[0] for m in found] == [
        "tier `basic`, targets cursor, agents",
        "tier `more`, targets cursor, agents",
    ]
    assert all(
        "Cursor loads 1 rule(s) twice (.cursor/rules and AGENTS.md): style" in m for m in found
    )
    # apply, in a project with those targets, says the same once.
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"library: {library}\ntargets: [cursor, agents]\n")
    (repo / ".rulesync.yaml").write_text("phase: basic\n")
    applied = rulesync(repo, "apply", check=0)
    [warning] = [line for line in applied.stderr.splitlines() if "twice" in line]
    assert warning.endswith(found[0].split(": ", 1)[1])


def test_lint_reads_the_targets_config_yaml_enables(tmp_path: Path) -> None:
    library = _two_tier_library(tmp_path / "lib")
    assert _tiers_warnings(rulesync(tmp_path, "lint", "--json", str(library)).stdout) == []
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("targets: [cursor, agents]\n")
    found = _tiers_warnings(rulesync(tmp_path, "lint", "--json", str(library)).stdout)
    assert len(found) == 2 and all("Cursor loads 1 rule(s) twice" in m for m in found)
    strict = rulesync(tmp_path, "lint", "--strict", str(library), check=1)
    assert "warning(s)" in strict.stdout


def test_lint_refuses_an_unknown_target_naming_the_valid_ones(tmp_path: Path) -> None:
    library = _two_tier_library(tmp_path / "lib")
    proc = rulesync(tmp_path, "lint", "--targets", "cursor,agnets", str(library), check=2)
    assert "unknown target 'agnets'" in proc.stderr and "valid targets:" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
