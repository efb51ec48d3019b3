"""One schema path for rulesync's own YAML files: every problem as `FILE:LINE: what is wrong;
valid keys/values`, with "did you mean" where a name is close, and the lines kept beside the
user's data, never inside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulesync.config import CONFIG_SCHEMA, load_config
from rulesync.errors import InvalidInput
from rulesync.library import TIERS_SCHEMA, load_library
from rulesync.marker import MARKER, MARKER_SCHEMA, parse_marker
from rulesync.registry import REGISTRY_SCHEMA
from rulesync.schema import (
    Choice,
    Field,
    Flag,
    ListOf,
    Number,
    Schema,
    SchemaError,
    Text,
    validate,
)
from rulesync.yamlio import parse_mapping
from support.repos import rulesync

FILE = Path("/p/settings.yaml")

ITEM = Schema(
    (
        Field("name", Text("a name"), required=True, example="name: one"),
        Field("size", Number(low=1, whole=True), 1),
    )
)
SETTINGS = Schema(
    (
        Field("colour", Choice(("red", "green", "blue")), "red"),
        Field("enabled", Flag(), True),
        Field("title", Text("a title"), required=True, example="title: mine"),
        Field("items", ListOf(ITEM, "a list of items", noun="item"), ()),
    )
)


def problems(text: str, schema: Schema = SETTINGS) -> tuple[str, ...]:
    """Every problem validating `text` reports (none when it fits)."""
    try:
        validate(schema, parse_mapping(text, FILE, "settings"), FILE)
    except SchemaError as exc:
        assert str(exc).startswith(exc.problems[0])
        return exc.problems
    return ()


def test_an_unknown_key_names_its_line_the_close_key_and_every_valid_one() -> None:
    assert problems("title: x\n\nenabeld: false\n") == (
        f"{FILE}:3: unknown key `enabeld` (did you mean `enabled`?); "
        "valid keys: colour, enabled, title, items",
    )


def test_a_value_of_the_wrong_type_names_its_line_and_what_it_must_be() -> None:
    assert problems("title: x\nenabled: sometimes\n") == (
        f"{FILE}:2: enabled must be true or false, not `sometimes`",
    )


def test_a_missing_required_key_says_what_it_holds_and_how_to_add_it() -> None:
    assert problems("colour: red\n") == (
        f"{FILE}: `title:` is required (a title); add e.g. `title: mine`",
    )


def test_a_value_outside_its_choices_is_named_with_the_close_one_and_every_valid_one() -> None:
    assert problems("title: x\ncolour: grean\n") == (
        f"{FILE}:2: colour `grean` is not valid (did you mean `green`?); "
        "valid values: red, green, blue",
    )


def test_problems_inside_list_items_name_the_item_and_their_own_line() -> None:
    text = "title: x\nitems:\n  - name: one\n    size: 0\n  - size: 2\n  - 7\n"
    assert problems(text) == (
        f"{FILE}:4: item `one`: size must be a whole number ≥ 1, not `0`",
        f"{FILE}:5: item 2: `name:` is required (a name); add e.g. `name: one`",
        f"{FILE}:6: item 3 must be {ITEM.describe()}, not `7`",
    )


def test_every_problem_is_reported_and_the_message_counts_the_rest() -> None:
    with pytest.raises(SchemaError) as info:
        validate(SETTINGS, parse_mapping("colr: red\nenabled: 3\n", FILE, "settings"), FILE)
    assert len(info.value.problems) == 3
    assert str(info.value) == f"{info.value.problems[0]} (and 2 more problem(s) in this file)"


def test_lines_are_kept_beside_the_data_not_inside_it() -> None:
    parsed = parse_mapping("title: x\nitems:\n  - name: one\n    size: 2\n", FILE, "settings")
    assert parsed.data == {"title": "x", "items": [{"name": "one", "size": 2}]}
    assert parsed.line("items", 0, "size") == 4
    assert parsed.line("items", 0) == 3
    assert parsed.line("items", 5) == 2  # unknown: its nearest known parent
    assert parsed.line("nowhere") == 0


def test_values_come_back_checked_with_defaults_filled_in() -> None:
    parsed = parse_mapping("title: '  mine  '\nitems: [{name: a}]\n", FILE, "settings")
    assert validate(SETTINGS, parsed, FILE) == {
        "colour": "red",
        "enabled": True,
        "title": "mine",
        "items": ({"name": "a", "size": 1},),
    }


def test_a_text_pattern_must_match_the_whole_value() -> None:
    schema = Schema((Field("slug", Text("a lowercase slug", pattern="[a-z]+")),))
    assert validate(schema, parse_mapping("slug: abc\n", FILE, "settings"), FILE) == {"slug": "abc"}
    for value in ("abc1", "1abc", "ABC"):
        assert problems(f"slug: {value}\n", schema) == (
            f"{FILE}:1: slug must be a lowercase slug, not `{value}`",
        )


def test_an_absent_nested_mapping_is_its_own_fields_defaults() -> None:
    inner = Schema((Field("size", Number(), 3), Field("label", Text(blank=True), "")))
    schema = Schema((Field("box", inner),))
    for text in ("{}\n", "box:\n", "box: {}\n"):
        parsed = parse_mapping(text, FILE, "settings")
        assert validate(schema, parsed, FILE) == {"box": {"size": 3, "label": ""}}
    # A nested mapping with a required field stays absent (None) rather than failing.
    strict = Schema((Field("box", Schema((Field("size", Number(), required=True),))),))
    assert validate(strict, parse_mapping("{}\n", FILE, "settings"), FILE) == {"box": None}


def test_a_list_of_choices_takes_a_lone_value_and_drops_repeats() -> None:
    tools = ListOf(Choice(("cursor", "claude"), noun="tool"), lone=True, unique=True)
    schema = Schema((Field("tools", tools),))
    parsed = parse_mapping("tools: claude\n", FILE, "settings")
    assert validate(schema, parsed, FILE) == {"tools": ("claude",)}
    parsed = parse_mapping("tools: [cursor, claude, cursor]\n", FILE, "settings")
    assert validate(schema, parsed, FILE) == {"tools": ("cursor", "claude")}
    assert problems("tools:\n  - cursor\n  - claud\n", schema) == (
        f"{FILE}:3: tools item 2: unknown tool `claud` (did you mean `claude`?); "
        "valid tools: cursor, claude",
    )


def test_the_marker_loads_with_its_key_lines_and_no_extra_key() -> None:
    marker = parse_marker(b"# mine\nphase: basic\nexclude:\n  - testing\n", Path("/p"))
    assert marker.line("phase") == 2
    assert marker.line("exclude", 0) == 4
    assert "__lines__" not in marker.metrics


def test_every_marker_key_reaches_the_marker_under_its_own_name() -> None:
    from rulesync.marker import Marker

    assert set(MARKER_SCHEMA.keys) <= set(Marker._fields)


def test_a_hostile_value_is_shown_on_one_line() -> None:
    [message] = problems('title: x\ncolour: "red\\nrm -rf /"\n')
    assert "\n" not in message and "red\\nrm -rf /" in message


# The same shapes through the real command, on real files.


def test_a_mistyped_marker_key_is_named_with_its_line_and_the_key_meant(project: Path) -> None:
    (project / MARKER).write_text("phase: basic\n# our team\ncomit: false\n")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {project / MARKER}:3: unknown key `comit` (did you mean `commit`?); "
        f"valid keys: {', '.join(MARKER_SCHEMA.keys)}"
    )


def test_a_marker_without_a_phase_says_how_to_add_one(project: Path) -> None:
    (project / MARKER).write_text("commit: false\n")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {project / MARKER}: `phase:` is required (a tier name or `auto`); "
        "add e.g. `phase: basic`"
    )


def test_a_config_value_of_the_wrong_type_names_the_config_line(project: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(config.read_text() + "debounce_ms: fast\n")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {config}:2: debounce_ms must be a number ≥ 0, not `fast`"
    )


def test_a_config_log_level_outside_its_choices_suggests_the_close_one(project: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(config.read_text() + "log_level: warn\n")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {config}:2: log_level `warn` is not valid (did you mean `warning`?); "
        "valid values: debug, info, warning, error"
    )


@pytest.mark.parametrize(
    "value", ["Rules Bot", "<bot@example.com>", "Rules Bot <>", "Rules Bot <bot@example.com"]
)
def test_a_config_commit_author_not_like_name_and_email_names_its_line(
    project: Path, value: str
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(config.read_text() + f"commit_author: '{value}'\n")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {config}:2: commit_author must be `Name <email>`, not `{value}`"
    )


def test_a_config_commit_author_gives_the_name_and_email(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("commit_author: '  Rules Bot  < bot@example.com > '\n")
    assert load_config(config).commit_author == ("Rules Bot", "bot@example.com")


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` by `new` in the file once; the line (from 1) it stands on."""
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    return text[: text.index(old)].count("\n") + 1


def test_a_bad_criterion_in_tiers_yaml_names_its_tier_and_line(
    project: Path, library: Path
) -> None:
    tiers = library / "tiers.yaml"
    line = edit(tiers, "op: '>=', value: 100", "op: '=>', value: 100")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {tiers}:{line}: tier `enterprise` criterion 1: op `=>` is not valid; "
        "valid values: >=, >, <=, <, ==, !="
    )


def test_an_unknown_key_in_a_tier_suggests_the_key_meant(project: Path, library: Path) -> None:
    tiers = library / "tiers.yaml"
    line = edit(tiers, "extends: basic", "extend: basic")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {tiers}:{line}: tier `advanced`: unknown key `extend` "
        "(did you mean `extends`?); valid keys: name, description, extends, criteria, promote_when"
    )


def test_an_extends_naming_no_tier_suggests_the_tier_meant(project: Path, library: Path) -> None:
    tiers = library / "tiers.yaml"
    line = edit(tiers, "extends: advanced", "extends: advnced")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {tiers}:{line}: tier `enterprise` extends `advnced`: unknown tier "
        "(did you mean `advanced`?); earlier tiers: basic, advanced"
    )


def test_a_mistyped_phase_in_the_marker_suggests_the_tier_meant(project: Path) -> None:
    (project / MARKER).write_text("# ours\nphase: advnced\n")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {project / MARKER}:2: unknown phase `advnced` (did you mean `advanced`?); "
        "valid: basic, advanced, enterprise, auto"
    )


def test_an_exclude_naming_no_rule_names_its_item_line_and_the_rule_meant(project: Path) -> None:
    (project / MARKER).write_text("phase: basic\nexclude:\n  - privacy\n  - testng\n")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {project / MARKER}:4: exclude names `testng`, which no tier provides "
        "(did you mean `testing`?); `rulesync tiers` lists the rule names"
    )


def test_a_library_folder_that_is_missing_does_not_exist(project: Path, tmp_path: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(f"library: {tmp_path / 'gone'}\n")
    proc = rulesync(project, "check", check=2)
    assert proc.stderr.strip() == (
        f"rulesync: {tmp_path / 'gone'}: library folder does not exist; check the `library` setting"
    )


# Whatever YAML mapping a user writes, the validator answers with InvalidInput or values.

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["basic", "auto", ">=", "==", "all", "any", "info", "Name <e@x>", ""])
)
KEYS = sorted(
    {
        *MARKER_SCHEMA.keys,
        *CONFIG_SCHEMA.keys,
        *TIERS_SCHEMA.keys,
        *REGISTRY_SCHEMA.keys,
        "extends",
        "criteria",
        "promote_when",
        "metric",
        "op",
        "value",
        "group",
        "min_groups",
        "group_met",
        "always_tokens",
    }
)
keys = st.sampled_from(KEYS) | st.text(max_size=6) | st.integers(-3, 3)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=20,
)
mappings = st.dictionaries(keys, values, max_size=6)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mappings)
def test_the_validator_never_raises_anything_but_invalid_input(
    tmp_path: Path, data: dict[object, object]
) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    for schema in (MARKER_SCHEMA, CONFIG_SCHEMA, TIERS_SCHEMA, REGISTRY_SCHEMA):
        try:
            validate(schema, parse_mapping(text, FILE, "settings"), FILE)
        except InvalidInput as exc:
            assert "\n" not in str(exc)
    checks = [
        lambda: parse_marker(text.encode(), tmp_path),
        lambda: load_config(tmp_path / "config.yaml"),
        lambda: load_library(tmp_path, "fuzz"),
    ]
    (tmp_path / "config.yaml").write_text(text)
    (tmp_path / "tiers.yaml").write_text(text)
    for check in checks:
        try:
            check()
        except InvalidInput as exc:
            assert "\n" not in str(exc)
