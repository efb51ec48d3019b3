"""The marker `.rulesync.yaml`: found like git, validated strictly, phase rewritten in place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.marker import MARKER, find_root, load_marker, with_phase


def test_root_is_found_by_walking_up(tmp_path: Path) -> None:
    (tmp_path / MARKER).write_text("phase: basic\n")
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path


def test_no_marker_anywhere_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="rulesync init"):
        find_root(tmp_path)


def test_unknown_key_names_file_line_and_valid_keys(tmp_path: Path) -> None:
    (tmp_path / MARKER).write_text("phase: basic\n# comment\nphsae: advanced\n")
    with pytest.raises(InvalidInput) as info:
        load_marker(tmp_path)
    message = str(info.value)
    assert message == (
        f"{tmp_path / MARKER}:3: unknown key `phsae` (did you mean `phase`?); "
        "valid keys: phase, library, targets, exclude, commit, metrics, prometheus"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("library: default\n", "`phase:` is required"),
        ("phase: [basic]\n", "phase must be"),
        ("phase: basic\ncommit: yes please\n", "commit must be true or false"),
        ("phase: basic\nexclude: {a: 1}\n", "exclude must be a list"),
        ("phase: basic\nmetrics: [1]\n", "metrics must be a mapping"),
        ("phase: basic\nexclude: [ok, 3]\n", ":2: exclude item 2 must be a rule name"),
        ("phase: basic\nmetrics:\n  a: 1\n  b: [2]\n", ":4: metric `b` must be a number or true"),
        ("- phase\n", "must be a mapping"),
        ("phase: basic\n  bad: indent\n", "not valid YAML"),
        ("a: &x [1]\nphase: *x\n", "YAML alias"),
    ],
)
def test_broken_markers_are_clear_errors(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / MARKER).write_text(text)
    with pytest.raises(InvalidInput, match=expected.replace("[", r"\[")):
        load_marker(tmp_path)


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (tmp_path / MARKER).write_text("\n".join(lines) + "\nphase: basic\n")
    with pytest.raises(InvalidInput, match="alias"):
        load_marker(tmp_path)


def test_marker_that_is_a_folder_a_fifo_or_huge_or_not_utf8(tmp_path: Path) -> None:
    (tmp_path / MARKER).mkdir()
    with pytest.raises(InvalidInput, match=r"folder|not a regular file"):
        load_marker(tmp_path)
    os.rmdir(tmp_path / MARKER)
    os.mkfifo(tmp_path / MARKER)
    with pytest.raises(InvalidInput, match="not a regular file"):
        load_marker(tmp_path)
    os.unlink(tmp_path / MARKER)
    (tmp_path / MARKER).write_bytes(b"phase: basic\n#" + b"x" * 200_000 + b"\n")
    with pytest.raises(InvalidInput, match="allowed"):
        load_marker(tmp_path)
    (tmp_path / MARKER).write_bytes(b"phase: b\xe4sic\n")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        load_marker(tmp_path)


def test_full_marker_loads() -> None:
    from rulesync.marker import parse_marker

    marker = parse_marker(
        b"phase: auto\nlibrary: ./rules\nexclude: [testing, ci.mdc]\ncommit: false\n"
        b"metrics: {developers: 3, multi_region: true}\n",
        Path("/p"),
    )
    assert marker.phase == "auto" and marker.library == "./rules"
    assert marker.exclude == ("testing", "ci") and marker.commit is False
    assert marker.metrics == {"developers": 3, "multi_region": True}


def test_with_phase_rewrites_only_the_phase_line_keeping_comments() -> None:
    text = "# our phase\nphase: basic   # bump when we hire\nexclude: [testing]\n"
    assert with_phase(text, "advanced") == (
        "# our phase\nphase: advanced   # bump when we hire\nexclude: [testing]\n"
    )
    assert with_phase("exclude: []\n", "basic") == "phase: basic\nexclude: []\n"


def test_a_marker_that_is_a_symlink_is_refused_not_read_through(tmp_path: Path) -> None:
    (tmp_path / "private.yaml").write_text("phase: basic\n# token: s3cret\n")
    os.symlink("private.yaml", tmp_path / MARKER)
    assert find_root(tmp_path) == tmp_path
    with pytest.raises(UnsafePath, match="symlink") as info:
        load_marker(tmp_path)
    assert str(tmp_path / MARKER) in str(info.value)
