"""`rulesync lint` on folders, libraries and names: what apply would refuse, what collides on
macOS and Windows, what Cursor skips, and how the command reports it (SPEC §5)."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path

import pytest

from rulesync.lint import lint, lint_path
from rulesync.names import MAX_RULE_NAME_BYTES, rule_name_problem
from support.repos import REPO_ROOT, rulesync

GOOD = b"---\ndescription: fine\nglobs:\nalwaysApply: false\n---\nbody\n"
ALWAYS = b"---\nalwaysApply: true\n---\n" + b"word " * 400 + b"\n"


def findings(folder: Path) -> dict[str, list[tuple[str, str]]]:
    """Relative path -> [(level, message)] for every file lint reports under `folder`."""
    return {
        r.path.relative_to(folder).as_posix(): [(f.level, f.message) for f in r.findings]
        for r in lint_path(folder)
    }


def test_mdc_extension_in_other_case_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "upper.MDC").write_bytes(GOOD)
    (tmp_path / "mixed.Mdc").write_bytes(GOOD)
    found = findings(tmp_path)
    assert set(found) == {"upper.MDC", "mixed.Mdc"}
    for name, ext in (("upper.MDC", ".MDC"), ("mixed.Mdc", ".Mdc")):
        [(level, message)] = found[name]
        assert level == "warning"
        assert message.startswith(f"extension `{ext}` is not `.mdc`: Cursor and rulesync skip")


def test_names_differing_only_by_case_or_normalisation_collide(tmp_path: Path) -> None:
    (tmp_path / "Logging.mdc").write_bytes(GOOD)
    (tmp_path / "logging.mdc").write_bytes(GOOD)
    composed = unicodedata.normalize("NFC", "café.mdc")
    decomposed = unicodedata.normalize("NFD", "café.mdc")
    (tmp_path / composed).write_bytes(GOOD)
    (tmp_path / decomposed).write_bytes(GOOD)
    found = findings(tmp_path)
    errors = [m for result in found.values() for level, m in result if level == "error"]
    assert len(errors) == 2
    assert any("`logging.mdc` and `Logging.mdc` differ only by case" in m for m in errors)
    assert any(composed in m and decomposed in m for m in errors)


def test_characters_windows_cannot_store_are_a_warning(tmp_path: Path) -> None:
    (tmp_path / "a:b?.mdc").write_bytes(GOOD)
    [(level, message)] = findings(tmp_path)["a:b?.mdc"]
    assert level == "warning"
    assert message.startswith("the name holds : ?, which Windows cannot store")


@pytest.mark.parametrize(
    "name",
    ["a..b.mdc", "tab\there.mdc", "back\\slash.mdc", "x" * MAX_RULE_NAME_BYTES + ".mdc"],
)
def test_names_apply_refuses_are_errors_in_apply_s_own_words(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(GOOD)
    [report] = lint_path(tmp_path)
    problem = rule_name_problem(name)
    assert problem is not None
    assert [(f.level, f.message) for f in report.findings] == [
        ("error", f"apply refuses this rule: {problem}; rename it")
    ]


def test_editor_droppings_hidden_files_and_readmes_are_ignored_as_apply_ignores_them(
    tmp_path: Path,
) -> None:
    for name in (".#draft.mdc", ".hidden.mdc", "#auto.mdc#", "README.md", "notes.txt"):
        (tmp_path / name).write_bytes(b"---\nbroken\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.mdc").write_bytes(b"---\nbroken\n")
    (tmp_path / "real.mdc").write_bytes(GOOD)
    assert findings(tmp_path) == {"real.mdc": []}


def test_folder_lint_walks_subfolders_and_keeps_their_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "backend" / "db").mkdir(parents=True)
    (tmp_path / "backend" / "db" / "sql.mdc").write_bytes(GOOD)
    (tmp_path / "frontend").mkdir()
    (tmp_path / "frontend" / "ui.mdc").write_bytes(b"---\ndescription: open\n")
    found = findings(tmp_path)
    assert list(found) == ["backend/db/sql.mdc", "frontend/ui.mdc"]
    assert found["frontend/ui.mdc"] == [("error", "front matter has no closing `---` line")]
    proc = rulesync(tmp_path, "lint", str(tmp_path), check=1)
    assert f"linted folder {tmp_path} (2 rule file(s)): 1 error(s), 0 warning(s)" in proc.stdout


def test_lint_of_a_missing_path_is_exit_2(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "lint", str(tmp_path / "does" / "not" / "exist"), check=2)
    assert proc.stderr.strip().endswith(
        "not found; name a library, a folder of .mdc files or one file"
    )
    assert proc.stdout == ""


def test_lint_of_a_readme_is_not_a_rule_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# notes\n")
    proc = rulesync(tmp_path, "lint", str(tmp_path / "README.md"), check=2)
    assert "not a rule (`*.mdc`) nor a library's tiers.yaml" in proc.stderr


def make_library(root: Path, tiers_yaml: str, rules: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "tiers.yaml").write_text(tiers_yaml)
    for relative, data in rules.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


TWO_TIERS = "tiers:\n  - name: small\n  - name: big\n    extends: small\n"


def test_lint_of_tiers_yaml_lints_the_library_and_names_it(tmp_path: Path) -> None:
    lib = make_library(tmp_path / "lib", TWO_TIERS, {"small/a.mdc": GOOD, "big/b.mdc": GOOD})
    proc = rulesync(tmp_path, "lint", str(lib / "tiers.yaml"), check=0)
    assert proc.stdout.strip() == (
        f"linted library {lib} (tiers.yaml and 2 rule file(s)): 0 error(s), 0 warning(s)"
    )
    doc = json.loads(rulesync(tmp_path, "lint", "--json", str(lib), check=0).stdout)
    assert doc["kind"] == "library"
    assert [Path(f["path"]).name for f in doc["files"]] == ["tiers.yaml", "a.mdc", "b.mdc"]


def test_a_library_error_names_its_path_once(tmp_path: Path) -> None:
    lib = make_library(tmp_path / "lib", "tiers:\n  - name: small\n    colour: red\n", {})
    (lib / "small").mkdir()
    proc = rulesync(tmp_path, "lint", str(lib), check=1)
    [line] = [x for x in proc.stdout.splitlines() if ": error: " in x]
    assert line.count(str(lib / "tiers.yaml")) == 1
    assert line.startswith(f"{lib / 'tiers.yaml'}:3: error: tier `small`: unknown key `colour`")


def test_names_colliding_across_tiers_are_an_error_where_the_tiers_meet(tmp_path: Path) -> None:
    lib = make_library(
        tmp_path / "lib", TWO_TIERS, {"small/Style.mdc": GOOD, "big/style.mdc": GOOD}
    )
    found = findings(lib)
    assert found["small/Style.mdc"] == []
    [(level, message)] = found["big/style.mdc"]
    assert level == "error" and "`style.mdc` and `Style.mdc` differ only by case" in message


def test_a_tier_over_the_library_budget_is_a_warning_on_tiers_yaml(tmp_path: Path) -> None:
    yaml = "budget: {always_tokens: 300}\n" + TWO_TIERS
    lib = make_library(tmp_path / "lib", yaml, {"small/a.mdc": GOOD, "big/huge.mdc": ALWAYS})
    reports = lint(lib).reports
    assert reports[0].path.name == "tiers.yaml"
    [finding] = reports[0].findings
    assert (finding.level, finding.line) == ("warning", 1)
    # 1,999 ASCII characters of text (500 tokens) and the inherited rule's description (1).
    assert finding.message.startswith("tier `big` loads about 501 tokens on every request, over ")
    assert "budget of 300 (budget.always_tokens)" in finding.message
    rulesync(tmp_path, "lint", str(lib), check=0)
    rulesync(tmp_path, "lint", "--strict", str(lib), check=1)
    (lib / "tiers.yaml").write_text("budget: {always_tokens: 600}\n" + TWO_TIERS)
    assert lint(lib).reports[0].findings == ()


def test_a_budget_that_is_not_a_whole_number_is_a_library_error(tmp_path: Path) -> None:
    lib = make_library(tmp_path / "lib", "budget: {always_tokens: lots}\n" + TWO_TIERS, {})
    (lib / "small").mkdir()
    (lib / "big").mkdir()
    [report] = lint(lib).reports
    assert [f.message for f in report.findings] == [
        "budget.always_tokens must be a whole number ≥ 1, not `lots`"
    ]


def test_corpus_lints_with_no_error_and_the_documented_counts(corpus: Path) -> None:
    reports = lint_path(corpus)
    assert len(reports) == 1120  # every file read; none crashed the reader
    levels = [f.level for r in reports for f in r.findings]
    assert levels.count("error") == 0
    prefixes = [f.message.split(" ")[0] for r in reports for f in r.findings]
    # The figures the table of findings in docs/reference/rule-files.md gives for this corpus.
    doc = (REPO_ROOT / "docs" / "reference" / "rule-files.md").read_text(encoding="utf-8")
    rows = (re.split(r"(?<!\\)\|", line.strip("| ")) for line in doc.splitlines())
    corpus_column = {cells[0].strip(): cells[-1].strip() for cells in rows if len(cells) == 4}
    universal = "a universal glob with `alwaysApply` false or absent"
    assert prefixes.count("glob") == int(corpus_column[universal]) == 208
    assert prefixes.count("brace") == int(corpus_column["a brace glob (`**/*.{js,ts}`)"]) == 173
    assert prefixes.count("empty") == int(corpus_column["an empty or whitespace-only body"]) == 3
    assert len(levels) == 384
    assert "0 crashes, 0 errors, 384 warnings in 384 files" in " ".join(doc.split())


def test_a_name_that_is_not_utf8_is_reported_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in (b"X\xff.mdc", b"x\xff.mdc"):
        with open(os.path.join(bytes(folder), name), "wb") as handle:
            handle.write(GOOD)
    proc = rulesync(tmp_path, "lint", str(folder), check=1)
    assert "its name is not valid UTF-8" in proc.stdout
    assert "differ only by case" in proc.stdout
    assert json.loads(rulesync(tmp_path, "lint", "--json", str(folder)).stdout)["errors"] == 3
