"""The tolerant `.mdc` front-matter reader and its lint findings (SPEC §5)."""

from __future__ import annotations

from pathlib import Path

import yaml

from rulesync.lint import lint_path
from rulesync.mdc import RuleType, read_rule


def messages(data: bytes, level: str) -> list[str]:
    return [f.message for f in read_rule(data).findings if f.level == level]


def test_reads_every_corpus_file_without_an_exception_and_classifies_each(corpus: Path) -> None:
    files = sorted(corpus.rglob("*.mdc"))
    assert len(files) == 1120
    types = {t: 0 for t in RuleType}
    not_yaml = 0
    for path in files:
        data = path.read_bytes()
        info = read_rule(data)
        types[info.rule_type] += 1
        try:
            yaml.safe_load(data.decode().split("---")[1])
        except yaml.YAMLError:
            not_yaml += 1
    assert not_yaml > 700  # most real files are not strict YAML, and still read here
    assert sum(types.values()) == 1120
    assert types[RuleType.AUTO_ATTACHED] > 0 and types[RuleType.AGENT_REQUESTED] >= 0


def test_unquoted_star_glob_that_yaml_reads_as_an_alias_is_a_glob() -> None:
    info = read_rule(b"---\ndescription: TS rules\nglobs: **/*.ts, src/**/*.tsx\n---\nbody\n")
    assert info.globs == ("**/*.ts", "src/**/*.tsx")
    assert info.rule_type is RuleType.AUTO_ATTACHED
    assert not info.findings


def test_globs_as_quoted_string_flow_list_and_block_list() -> None:
    assert read_rule(b'---\nglobs: "*.py"\n---\n').globs == ("*.py",)
    assert read_rule(b"---\nglobs: ['*.py', \"*.md\"]\n---\n").globs == ("*.py", "*.md")
    assert read_rule(b"---\nglobs:\n  - '*.py'\n  - src/*.js\n---\n").globs == ("*.py", "src/*.js")


def test_description_with_colon_space_is_read_whole() -> None:
    info = read_rule(b"---\ndescription: Rule: use this: always\nglobs:\n---\n")
    assert info.description == "Rule: use this: always"
    assert info.rule_type is RuleType.AGENT_REQUESTED


def test_rule_types_always_auto_agent_manual() -> None:
    assert read_rule(b"---\nalwaysApply: true\n---\n").rule_type is RuleType.ALWAYS
    assert read_rule(b"---\nglobs: *.py\n---\n").rule_type is RuleType.AUTO_ATTACHED
    assert read_rule(b"---\ndescription: d\n---\n").rule_type is RuleType.AGENT_REQUESTED
    assert read_rule(b"---\ndescription:\nglobs:\n---\n").rule_type is RuleType.MANUAL
    assert read_rule(b"no front matter\n").rule_type is RuleType.MANUAL


def test_errors_no_closing_delimiter_and_not_utf8() -> None:
    assert messages(b"---\ndescription: d\nbody\n", "error") == [
        "front matter has no closing `---` line"
    ]
    assert messages(b"---\ndescription: caf\xe9\n---\n", "error")[0].startswith("not UTF-8")


def test_warnings_unknown_key_string_boolean_universal_glob_multiline_braces() -> None:
    assert "unknown key `tags`" in messages(b"---\ntags: x\n---\n", "warning")[0]
    assert "not a boolean" in messages(b'---\nalwaysApply: "true"\n---\n', "warning")[0]
    assert "universal glob" in messages(b"---\nglobs: **/*\nalwaysApply: true\n---\n", "warning")[0]
    assert "several lines" in messages(b"---\ndescription: >\n  one\n  two\n---\n", "warning")[0]
    assert "brace glob" in messages(b"---\nglobs: **/*.{js,jsx}\n---\n", "warning")[0]


def test_crlf_and_bom_are_tolerated() -> None:
    info = read_rule(b"\xef\xbb\xbf---\r\ndescription: d\r\nalwaysApply: true\r\n---\r\nbody\r\n")
    assert info.always_apply and info.description == "d" and not info.findings


def test_lint_reports_every_file_even_after_a_bad_one(tmp_path: Path) -> None:
    (tmp_path / "a-bad.mdc").write_bytes(b"---\ndescription: never closed\n")
    (tmp_path / "b-latin1.mdc").write_bytes(b"---\ndescription: \xff\n---\n")
    (tmp_path / "c-good.mdc").write_bytes(
        b"---\ndescription: fine\nglobs:\nalwaysApply: false\n---\n"
    )
    reports = lint_path(tmp_path)
    assert [r.path.name for r in reports] == ["a-bad.mdc", "b-latin1.mdc", "c-good.mdc"]
    levels = [[f.level for f in r.findings] for r in reports]
    assert levels == [["error"], ["error"], []]


def test_lint_command_exit_codes(tmp_path: Path) -> None:
    from tests.conftest import rulesync

    good = tmp_path / "good.mdc"
    good.write_bytes(b"---\ndescription: fine\nglobs:\nalwaysApply: false\n---\n")
    warn = tmp_path / "warn.mdc"
    warn.write_bytes(b"---\ndescription: fine\nextra: 1\n---\n")
    bad = tmp_path / "bad.mdc"
    bad.write_bytes(b"---\ndescription: open\n")
    assert rulesync(tmp_path, "lint", str(good)).returncode == 0
    assert rulesync(tmp_path, "lint", str(warn)).returncode == 0
    assert rulesync(tmp_path, "lint", "--strict", str(warn)).returncode == 1
    proc = rulesync(tmp_path, "lint", str(tmp_path))
    assert proc.returncode == 1
    assert f"{bad}:1: error: front matter has no closing" in proc.stdout
    assert f"{warn}:3: warning: unknown key `extra`" in proc.stdout


def test_lint_of_the_corpus_reports_findings_without_crashing(corpus: Path) -> None:
    reports = lint_path(corpus / "rules-mdc")
    assert len(reports) == len(list((corpus / "rules-mdc").glob("*.mdc")))
    assert any(f.message.startswith("brace glob") for r in reports for f in r.findings)
