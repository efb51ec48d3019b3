"""rulesync's own YAML files (marker, config, registry, tiers.yaml) refuse what YAML would
misread, with the file, the line and what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rulesync.errors import InvalidInput
from rulesync.yamlio import parse_mapping
from support.repos import rulesync

FILE = Path("settings.yaml")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("phase: basic\nexclude:\n\t- logging\n", 3),
        ("phase: basic\n\tlibrary: default\n", 2),
        ("phase: basic\nmetrics:\n  team: 3\n \tusers: 4\n", 4),
    ],
)
def test_a_tab_indented_marker_names_the_tab_and_its_line(
    project: Path, text: str, line: int
) -> None:
    (project / ".rulesync.yaml").write_text(text)
    proc = rulesync(project, "check", check=2)
    marker = project / ".rulesync.yaml"
    assert proc.stderr == (
        f"rulesync: {marker}:{line}: marker indents this line with a tab; YAML indents with "
        "spaces only: replace the tab with spaces\n"
    )


def test_a_syntax_error_without_a_tab_keeps_yamls_own_words() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_mapping("a: [1, 2\nb: 3\n", FILE, "settings")
    assert "tab" not in str(error.value)
    assert "not valid YAML" in str(error.value)


def test_a_marker_naming_its_phase_twice_is_refused_at_the_second_line(project: Path) -> None:
    marker = project / ".rulesync.yaml"
    marker.write_text("phase: basic\nexclude: [logging]\nphase: enterprise\n")
    proc = rulesync(project, "apply", check=2)
    assert proc.stderr == (
        f"rulesync: {marker}:3: marker has `phase` a second time (first on line 1); "
        "keep one of them\n"
    )
    assert not (project / ".cursor").exists()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb:\n  c: 2\n  c: 3\n", 4),  # nested
        ("a:\n  - name: x\n    size: 1\n    size: 2\n", 4),  # in a list item
        ("a: {c: 1, c: 2}\n", 1),  # a flow mapping (outside the fast reader's subset)
    ],
)
def test_a_duplicate_key_anywhere_is_refused_with_its_line(text: str, line: int) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_mapping(text, FILE, "settings")
    assert str(error.value).startswith(f"{FILE}:{line}: settings has `")
    assert "a second time" in str(error.value)


def test_the_same_key_in_two_mappings_is_not_a_duplicate() -> None:
    parsed = parse_mapping("a:\n  name: x\nb:\n  name: y\n", FILE, "settings")
    assert parsed.data == {"a": {"name": "x"}, "b": {"name": "y"}}


def test_rulesyncs_other_files_refuse_a_duplicate_key_too(
    project: Path, library: Path, isolated_user: Path
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(f"library: {library}\nlibrary: default\n")
    proc = rulesync(project, "apply", check=2)
    assert f"{config}:2: rulesync config has `library` a second time" in proc.stderr
    config.write_text(f"library: {library}\n")
    tiers = library / "tiers.yaml"
    tiers.write_text(tiers.read_text() + "version: 2\n")
    proc = rulesync(project, "apply", check=2)
    assert f"{tiers}:" in proc.stderr and "has `version` a second time" in proc.stderr
