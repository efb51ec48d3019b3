"""The targets (SPEC §8): what each assistant's files and blocks hold for a tier, pure."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rulesync import targets
from rulesync.errors import InvalidInput
from rulesync.library import bundled_root, load_library
from rulesync.targets import blocks
from rulesync.targets.base import SourceRule, split_front_matter, yaml_quote
from rulesync.targets.copilot import expand_braces

PYTHON_GLOBS = ("**/*.py", "src/{a,b}/*.ts", "docs/a: b/*.md")

RULES = [
    SourceRule(
        "security.mdc",
        b"---\ndescription: Security basics\nglobs:\nalwaysApply: true\n---\n\n"
        b"# Security\n\nNever commit secrets.\n",
    ),
    SourceRule(
        "python.mdc",
        b"---\ndescription: Python style\nglobs: **/*.py, src/{a,b}/*.ts, docs/a: b/*.md\n"
        b"alwaysApply: false\n---\nUse type hints.\n",
    ),
    SourceRule(
        "deploy.mdc",
        b"---\ndescription: How to deploy: read before touching CI\nalwaysApply: false\n---\n"
        b"Deploy with make deploy.\n",
    ),
    SourceRule("manual.mdc", b"---\nalwaysApply: false\n---\nOnly when asked.\n"),
    SourceRule("empty.mdc", b"---\ndescription: Empty\nalwaysApply: true\n---\n"),
    SourceRule("frontend/react.mdc", b"---\nglobs: src/**/*.tsx\n---\nUse hooks.\n"),
]
ALL = ("cursor", "agents", "claude", "copilot", "devin", "windsurf")


def front(data: bytes) -> dict[str, Any]:
    """The YAML front matter of a rendered file, read by a strict YAML parser."""
    head, _ = split_front_matter(data)
    assert head, data
    loaded = yaml.safe_load(head.decode().strip().strip("-"))
    assert isinstance(loaded, dict)
    return loaded


def body(data: bytes) -> bytes:
    return split_front_matter(data)[1]


def test_front_matter_split_keeps_both_delimiters_with_the_front_matter() -> None:
    assert split_front_matter(b"---\na: 1\n---\nbody\n") == (b"---\na: 1\n---\n", b"body\n")
    assert split_front_matter(b"no front matter\n") == (b"", b"no front matter\n")
    assert split_front_matter(b"---\na: 1\nunterminated\n") == (b"", b"---\na: 1\nunterminated\n")
    assert split_front_matter(b"---\r\na: 1\r\n---\r\nx") == (b"---\r\na: 1\r\n---\r\n", b"x")


def test_cursor_copies_every_rule_byte_for_byte_keeping_nested_paths() -> None:
    files = targets.get("cursor").render(RULES).files
    assert files == {f".cursor/rules/{r.path}": r.data for r in RULES}


def test_claude_writes_rules_for_always_and_globs_and_skills_for_requested_and_manual() -> None:
    files = targets.get("claude").render(RULES).files
    assert set(files) == {
        ".claude/rules/security.md",
        ".claude/rules/python.md",
        ".claude/skills/deploy/SKILL.md",
        ".claude/skills/manual/SKILL.md",
        ".claude/rules/empty.md",
        ".claude/rules/frontend/react.md",
    }
    assert files[".claude/rules/security.md"] == b"# Security\n\nNever commit secrets.\n"
    assert front(files[".claude/rules/python.md"]) == {"paths": list(PYTHON_GLOBS)}
    assert body(files[".claude/rules/python.md"]) == b"Use type hints.\n"
    assert front(files[".claude/rules/frontend/react.md"]) == {"paths": ["src/**/*.tsx"]}
    # An Agent Requested rule is a skill: its description decides when Claude reads it.
    deploy = files[".claude/skills/deploy/SKILL.md"]
    assert front(deploy) == {
        "name": "deploy",
        "description": "How to deploy: read before touching CI",
    }
    assert body(deploy) == b"Deploy with make deploy.\n"
    # A Manual rule is a skill Claude never picks by itself: only `/manual` loads it.
    manual = front(files[".claude/skills/manual/SKILL.md"])
    assert manual["disable-model-invocation"] is True and manual["name"] == "manual"
    assert files[".claude/rules/empty.md"] == b""


def test_copilot_puts_always_rules_in_its_block_and_scoped_rules_in_instruction_files() -> None:
    rendered = targets.get("copilot").render(RULES)
    assert set(rendered.files) == {
        ".github/instructions/python.instructions.md",
        ".github/instructions/deploy.instructions.md",
        ".github/instructions/frontend/react.instructions.md",
    }
    python = front(rendered.files[".github/instructions/python.instructions.md"])
    # A comma inside a brace group would split Copilot's comma-joined list: written out.
    assert python["applyTo"].split(",") == ["**/*.py", "src/a/*.ts", "src/b/*.ts", "docs/a: b/*.md"]
    assert python["description"] == "Python style"
    deploy = front(rendered.files[".github/instructions/deploy.instructions.md"])
    assert deploy == {"description": "How to deploy: read before touching CI"}
    react = front(rendered.files[".github/instructions/frontend/react.instructions.md"])
    assert react == {"applyTo": "src/**/*.tsx"}
    block = rendered.blocks[".github/copilot-instructions.md"].decode()
    assert "Never commit secrets." in block
    assert "Use type hints" not in block and "Only when asked" not in block


@pytest.mark.parametrize(("name", "folder"), [("devin", ".devin"), ("windsurf", ".windsurf")])
def test_devin_and_windsurf_write_one_trigger_per_rule_type_flattening_nested_rules(
    name: str, folder: str
) -> None:
    files = targets.get(name).render(RULES).files
    prefix = f"{folder}/rules/"
    names = ("security", "python", "deploy", "manual", "empty", "frontend__react")
    assert set(files) == {f"{prefix}{n}.md" for n in names}
    assert front(files[prefix + "security.md"]) == {"trigger": "always_on"}
    assert body(files[prefix + "security.md"]) == b"# Security\n\nNever commit secrets.\n"
    # A YAML list, brace groups kept: the form both Devin Desktop and the Devin CLI read.
    assert front(files[prefix + "python.md"]) == {
        "trigger": "glob",
        "globs": list(PYTHON_GLOBS),
        "description": "Python style",
    }
    assert front(files[prefix + "deploy.md"]) == {
        "trigger": "model_decision",
        "description": "How to deploy: read before touching CI",
    }
    assert front(files[prefix + "manual.md"]) == {"trigger": "manual"}
    assert front(files[prefix + "frontend__react.md"]) == {
        "trigger": "glob",
        "globs": ["src/**/*.tsx"],
    }
    # The keyword is written bare, as tools reading front matter line by line expect it.
    assert b"\ntrigger: always_on\n" in files[prefix + "security.md"]


def test_blocks_do_not_depend_on_the_order_the_rules_come_in() -> None:
    forward = targets.render_all(ALL, RULES)
    assert targets.render_all(ALL, list(reversed(RULES))) == forward


def test_devin_refuses_two_rules_that_flatten_to_the_same_file() -> None:
    rules = [SourceRule("a/b.mdc", b"x\n"), SourceRule("a__b.mdc", b"y\n")]
    with pytest.raises(InvalidInput, match=r"`a/b.mdc` and `a__b.mdc` both become"):
        targets.get("devin").render(rules)


def test_agents_block_gives_always_in_full_and_points_at_the_full_text_of_the_others() -> None:
    rendered = targets.render_all(["agents", "cursor"], RULES)["agents"]
    assert rendered.files == {}
    text = rendered.blocks["AGENTS.md"].decode()
    assert "# Security\n\nNever commit secrets.\n" in text
    assert (
        "- `python` for files matching `**/*.py`, `src/{a,b}/*.ts`, `docs/a: b/*.md`: "
        "full text in `.cursor/rules/python.mdc`"
    ) in text
    assert (
        "- `deploy`: How to deploy: read before touching CI "
        "(full text in `.cursor/rules/deploy.mdc`)"
    ) in text
    assert "- `manual` (full text in `.cursor/rules/manual.mdc`)" in text
    assert "Use type hints" not in text and "Only when asked" not in text


def test_agents_alone_writes_each_listed_and_manual_rule_to_a_file_it_names_so_none_is_lost() -> (
    None
):
    rendered = targets.render_all(["agents"], RULES)["agents"]
    text = rendered.blocks["AGENTS.md"].decode()
    assert "`python` for files matching" in text
    assert "full text in `.agents/rules/python.md`" in text
    assert "- `manual` (full text in `.agents/rules/manual.md`)" in text
    # The listed rules' text is in their own files, not loaded with AGENTS.md.
    assert "Use type hints" not in text and "Only when asked" not in text
    assert rendered.files[".agents/rules/python.md"] == b"Use type hints.\n"
    assert rendered.files[".agents/rules/deploy.md"] == b"Deploy with make deploy.\n"
    assert rendered.files[".agents/rules/manual.md"].startswith(b"Only when asked")
    assert ".agents/rules/security.md" not in rendered.files  # Always: in AGENTS.md itself


def test_agents_points_at_the_first_enabled_target_that_keeps_the_full_text() -> None:
    # The first enabled target that writes a rule's full text is named, Claude's skill too.
    text = targets.render_all(["claude", "devin", "agents"], RULES)["agents"].blocks["AGENTS.md"]
    assert b"full text in `.claude/rules/python.md`" in text
    assert b"- `manual` (full text in `.claude/skills/manual/SKILL.md`)" in text


def test_a_rule_quoting_the_block_markers_cannot_end_the_block_early() -> None:
    rule = SourceRule("x.mdc", b"---\nalwaysApply: true\n---\n" + blocks.END + b"\n")
    for name in ("agents", "copilot"):
        for content in targets.get(name).render([rule]).blocks.values():
            spliced = blocks.splice(None, content)
            assert blocks.extract(spliced) == content


def test_every_tier_of_the_bundled_library_renders_for_every_target_the_same_twice() -> None:
    library = load_library(bundled_root(), "bundled")
    for tier in library.tier_names:
        rules = [SourceRule(name, f.data) for name, f in library.resolve(tier).items()]
        first = targets.render_all(ALL, rules)
        again = targets.render_all(ALL, rules)
        assert first == again
        assert len(first["cursor"].files) == len(rules)
        assert first["agents"].blocks["AGENTS.md"]
        for name in ("claude", "copilot", "devin", "windsurf"):
            for path, data in first[name].files.items():
                if split_front_matter(data)[0]:
                    front(data)  # parses as YAML
                assert path.endswith(".md")


def test_size_limits_are_warned_for_devin_windsurf_and_agents_md() -> None:
    big = SourceRule("big.mdc", b"---\nalwaysApply: true\n---\n" + b"x" * 40_000 + b"\n")
    rendered = targets.render_all(ALL, [big])
    assert rendered["cursor"].warnings == ()
    assert any("12,000" in w and "big.md" in w for w in rendered["devin"].warnings)
    assert any("12,000" in w for w in rendered["windsurf"].warnings)
    assert any("32,768 bytes" in w and "AGENTS.md" in w for w in rendered["agents"].warnings)
    assert rendered["claude"].warnings == rendered["copilot"].warnings == ()
    small = targets.render_all(ALL, RULES)
    assert all(r.warnings == () for r in small.values())


def test_a_rule_that_is_not_utf8_is_a_manual_rule_with_replacements_and_warned() -> None:
    rule = SourceRule("latin.mdc", b"---\nalwaysApply: true\n---\ncaf\xe9\n")
    rendered = targets.render_all(ALL, [rule])
    assert rendered["cursor"].files[".cursor/rules/latin.mdc"] == rule.data
    assert rendered["cursor"].warnings == ()
    assert list(rendered["claude"].files) == [".claude/skills/latin/SKILL.md"]
    devin = rendered["devin"].files[".devin/rules/latin.md"]
    assert devin == "---\ntrigger: manual\n---\ncaf\ufffd\n".encode()
    for name in ("agents", "claude", "copilot", "devin", "windsurf"):
        assert rendered[name].warnings == (
            f"latin.mdc: not UTF-8; `{name}` takes it as a Manual rule, bad bytes replaced",
        )


def test_a_rule_without_front_matter_is_manual_everywhere() -> None:
    rule = SourceRule("plain.mdc", b"just text\n")
    rendered = targets.render_all(ALL, [rule])
    assert rendered["copilot"].files == {}
    assert list(rendered["claude"].files) == [".claude/skills/plain/SKILL.md"]
    assert rendered["devin"].files == {
        ".devin/rules/plain.md": b"---\ntrigger: manual\n---\njust text\n"
    }
    block = rendered["agents"].blocks["AGENTS.md"]
    assert b"- `plain` (full text in `.cursor/rules/plain.mdc`)" in block


def test_unknown_target_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as raised:
        targets.get("vim")
    message = str(raised.value)
    assert "'vim'" in message
    for name in ALL:
        assert name in message


def test_registry_holds_the_eight_targets_and_defaults_to_cursor_alone() -> None:
    assert set(targets.TARGETS) == {*ALL, "kiro", "cline"}
    assert targets.DEFAULT == ("cursor",)
    assert targets.get("agents").folders == ("", ".agents/rules")
    assert targets.get("cursor").folders == (".cursor/rules",)


def test_brace_groups_are_written_out_and_other_globs_kept() -> None:
    assert expand_braces("src/{a,b}/*.{ts,tsx}") == [
        "src/a/*.ts",
        "src/a/*.tsx",
        "src/b/*.ts",
        "src/b/*.tsx",
    ]
    assert expand_braces("**/*.py") == ["**/*.py"]
    assert expand_braces("{only}.md") == ["{only}.md"]


@given(st.text())
def test_yaml_quote_reads_back_exactly(text: str) -> None:
    assert yaml.safe_load(f"key: {yaml_quote(text)}") == {"key": text}


# --- the managed block -----------------------------------------------------------------

user_text = st.lists(
    st.sampled_from([b"# Notes", b"", b"text with <!-- a comment -->", b"  indented", b"\t"]),
    max_size=6,
).map(lambda lines: b"".join(line + b"\n" for line in lines))
content = st.lists(st.sampled_from([b"rule one", b"", b"- item"]), max_size=4).map(
    lambda lines: b"".join(line + b"\n" for line in lines)
)


@given(user_text, content)
def test_appending_then_removing_the_block_gives_the_file_back(text: bytes, block: bytes) -> None:
    spliced = blocks.splice(text, block)
    assert spliced is not None and spliced.startswith(text)
    assert blocks.extract(spliced) == block
    assert blocks.splice(spliced, None) == text


@given(user_text, user_text, content, content)
def test_bytes_outside_the_block_never_change(
    before: bytes, after: bytes, old: bytes, new: bytes
) -> None:
    existing = before + blocks.wrap(old) + after
    spliced = blocks.splice(existing, new)
    assert spliced == before + blocks.wrap(new) + after
    assert blocks.extract(spliced) == new
    assert blocks.splice(spliced, new) == spliced


any_text = st.binary(max_size=200).filter(lambda b: b"rulesync:" not in b)


@given(any_text, content)
def test_in_agents_md_the_block_goes_first_and_removing_it_gives_any_file_back(
    text: bytes, block: bytes
) -> None:
    spliced = blocks.splice(text, block, "AGENTS.md")
    assert spliced is not None and spliced.startswith(blocks.BEGIN)
    assert spliced.endswith(text) and blocks.extract(spliced) == block
    assert blocks.splice(spliced, None, "AGENTS.md") == text
    assert blocks.splice(None, block, "AGENTS.md") is not None
    assert blocks.splice(blocks.splice(None, block, "AGENTS.md"), None, "AGENTS.md") is None


@given(any_text.map(lambda b: b + b"\n" if b else b), content)
def test_any_user_file_ending_a_line_is_given_back_after_append_and_remove(
    text: bytes, block: bytes
) -> None:
    spliced = blocks.splice(text, block)
    assert spliced is not None and blocks.extract(spliced) == block
    assert blocks.splice(spliced, None) == text


@given(any_text.map(lambda b: b + b"\r\n"), any_text, content, content)
def test_any_bytes_around_a_block_survive_replacing_and_removing_it(
    before: bytes, after: bytes, old: bytes, new: bytes
) -> None:
    existing = before + blocks.wrap(old) + after
    assert blocks.splice(existing, new) == before + blocks.wrap(new) + after
    # `before` ends in CRLF, not in a blank line rulesync could have added: all kept.
    assert blocks.splice(existing, None) == before + after


def test_a_file_rulesync_created_for_the_block_goes_away_with_it() -> None:
    created = blocks.splice(None, b"rules\n")
    assert created == blocks.BEGIN + b"\nrules\n" + blocks.END + b"\n"
    assert blocks.splice(created, None) is None
    assert blocks.splice(None, None) is None
    # The user's empty file stays (empty) after the block is removed.
    assert blocks.splice(blocks.splice(b"", b"rules\n"), None) == b""


def test_appended_block_follows_one_blank_line_and_a_last_line_gains_its_newline() -> None:
    assert blocks.splice(b"# Mine\n", b"r\n") == b"# Mine\n\n" + blocks.wrap(b"r\n")
    assert blocks.splice(b"# Mine", b"r\n") == b"# Mine\n\n" + blocks.wrap(b"r\n")
    assert blocks.splice(blocks.splice(b"# Mine", b"r\n"), None) == b"# Mine\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (blocks.wrap(b"a\n") + b"\n" + blocks.wrap(b"b\n"), "more than one"),
        (blocks.BEGIN + b"\nno end\n", "no end marker"),
        (b"x\n" + blocks.END + b"\n", "without its begin"),
    ],
)
def test_a_broken_block_is_refused_naming_the_file(text: bytes, problem: str) -> None:
    with pytest.raises(InvalidInput, match=f"AGENTS.md: .*{problem}"):
        blocks.find_block(text, "AGENTS.md")
    with pytest.raises(InvalidInput):
        blocks.splice(text, b"new\n", "AGENTS.md")


def test_find_block_spans_the_marker_lines() -> None:
    text = b"mine\n" + blocks.wrap(b"r\n") + b"more\n"
    span = blocks.find_block(text)
    assert span is not None
    assert text[span[0] : span[1]] == blocks.wrap(b"r\n")
    assert blocks.find_block(b"no block\n") is None
    assert blocks.extract(None) is None and blocks.extract(b"plain\n") is None
