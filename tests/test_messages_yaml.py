"""rulesync's own YAML files (marker, config, registry, tiers.yaml) refuse what YAML would
misread, with the file, the line and what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rulesync.errors import InvalidInput
from rulesync.yamlio import parse_mapping
from tests.conftest import rulesync

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
