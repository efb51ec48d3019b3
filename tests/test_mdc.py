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
        b"---\ndescription: fine\nglobs:\nalwaysApply: false\n---\nbody\n"
    )
    reports = lint_path(tmp_path)
    assert [r.path.name for r in reports] == ["a-bad.mdc", "b-latin1.mdc", "c-good.mdc"]
    levels = [[f.level for f in r.findings] for r in reports]
    assert levels == [["error"], ["error"], []]


def test_lint_command_exit_codes(tmp_path: Path) -> None:
    from support.repos import rulesync

    good = tmp_path / "good.mdc"
    good.write_bytes(b"---\ndescription: fine\nglobs:\nalwaysApply: false\n---\nbody\n")
    warn = tmp_path / "warn.mdc"
    warn.write_bytes(b"---\ndescription: fine\nextra: 1\n---\nbody\n")
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


# Front matter as Cursor's line-based reader sees it (SPEC §5): one minimal file per finding.


def only(data: bytes) -> list[tuple[str, int, str]]:
    return [(f.level, f.line, f.message) for f in read_rule(data).findings]


def test_quoted_globs_keep_their_quotes_for_cursor_and_are_a_warning() -> None:
    info = read_rule(b'---\nglobs: "**/*.py"\n---\nbody\n')
    assert info.globs == ("**/*.py",)  # what the author meant
    assert info.cursor_globs == ('"**/*.py"',)  # what Cursor matches: nothing
    [(level, line, message)] = only(b'---\nglobs: "**/*.py"\n---\nbody\n')
    assert (level, line) == ("warning", 2)
    assert message.startswith('quoted glob "**/*.py": Cursor keeps the quotes')
    both = read_rule(b'---\nglobs: "**/*.go, **/*.mod"\n---\nbody\n')
    assert both.cursor_globs == ('"**/*.go', '**/*.mod"')
    assert [f.message[:12] for f in both.findings] == ["quoted glob "]


def test_globs_as_a_yaml_list_flow_or_block_are_a_portability_warning() -> None:
    flow = read_rule(b'---\nglobs: ["**/*.py"]\n---\nbody\n')
    assert flow.cursor_globs == ("**/*.py",)
    assert [f.message.split(":")[0] for f in flow.findings] == ["globs written as a YAML list […]"]
    block = read_rule(b"---\nglobs:\n  - src/*.py\n---\nbody\n")
    assert block.globs == ("src/*.py",)
    assert [(f.level, f.line) for f in block.findings] == [("warning", 2)]
    assert "block list" in block.findings[0].message


def test_always_apply_true_beside_specific_globs_warns_that_the_globs_are_ignored() -> None:
    info = read_rule(b"---\nglobs: src/**/*.py\nalwaysApply: true\n---\nbody\n")
    assert info.rule_type is RuleType.ALWAYS
    [(level, line, message)] = only(b"---\nglobs: src/**/*.py\nalwaysApply: true\n---\nbody\n")
    assert (level, line) == ("warning", 2)
    assert message.startswith("globs are ignored beside `alwaysApply: true`")


def test_universal_glob_without_always_apply_is_an_always_rule_in_disguise() -> None:
    for glob in (b"**/*", b"*"):
        data = b"---\nglobs: " + glob + b"\nalwaysApply: false\n---\nbody\n"
        [(level, line, message)] = only(data)
        assert (level, line) == ("warning", 2)
        assert "an Always rule in disguise" in message


def test_tab_indented_key_is_folded_into_the_previous_value_and_reported() -> None:
    info = read_rule(b"---\nglobs: src/*.py\n\talwaysApply: true\n---\nbody\n")
    assert not info.always_apply and info.globs == ("src/*.py",)
    [(level, line, message)] = only(b"---\nglobs: src/*.py\n\talwaysApply: true\n---\nbody\n")
    assert (level, line) == ("warning", 3)
    assert message.startswith("tab-indented `alwaysApply` is folded into `globs`")


def test_empty_or_whitespace_only_body_is_a_warning() -> None:
    for data in (b"---\ndescription: d\n---\n", b"---\ndescription: d\n---\n \n\t\n"):
        [(level, line, message)] = only(data)
        assert (level, line) == ("warning", 3)
        assert message.startswith("empty body")


def test_always_apply_quoted_or_yes_is_not_always_as_in_cursor_and_warns() -> None:
    for value in (b'"true"', b"'true'", b"yes", b"1"):
        info = read_rule(b"---\ndescription: d\nalwaysApply: " + value + b"\n---\nbody\n")
        assert info.rule_type is RuleType.AGENT_REQUESTED, value
        [finding] = info.findings
        assert finding.line == 3 and "not a boolean: Cursor does not treat the rule as Always" in (
            finding.message
        )


def test_duplicate_key_names_both_lines_and_the_one_cursor_takes() -> None:
    info = read_rule(b"---\nglobs: a/*.py\ndescription: d\nglobs: b/*.py\n---\nbody\n")
    assert info.globs == ("b/*.py",)  # the last one, as Cursor reads it
    [(level, line, message)] = only(b"---\nglobs: a/*.py\ndescription: d\nglobs: b/*.py\n---\nb\n")
    assert (level, line) == ("warning", 4)
    assert message == (
        "key `globs` appears twice (lines 2 and 4): Cursor reads the last one, line 4; "
        "remove the other"
    )


def test_closing_line_that_is_not_exactly_three_dashes_is_a_clear_error() -> None:
    for closing in (b"----", b"..."):
        [(level, line, message)] = only(b"---\ndescription: d\n" + closing + b"\nbody\n")
        assert (level, line) == ("error", 3)
        assert message.startswith(f"`{closing.decode()}` does not close the front matter")
        assert "never closes" in message
    # A near miss with a real `---` further down: Cursor reads the body as front matter.
    found = only(b"---\ndescription: d\n----\nbody\n\n---\nmore\n")
    [(level, line, message)] = [f for f in found if f[0] == "error"]
    assert (level, line) == ("error", 3)
    assert "Cursor reads on to line 6" in message


def test_findings_come_in_line_order() -> None:
    data = b"---\nalwaysApply: yes\nextra: 1\nglobs: **/*.{js,ts}\nglobs: **/*.py\n---\n"
    lines = [f.line for f in read_rule(data).findings]
    assert lines == sorted(lines) and len(lines) >= 4
