"""Loading a library: tiers.yaml, `extends`, replacement by name, and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.library import load_library, valid_rule_name
from tests.conftest import make_library


def test_extends_inherits_and_a_higher_tier_replaces_a_same_named_rule(tmp_path: Path) -> None:
    lib = load_library(make_library(tmp_path / "lib"), "test")
    assert lib.tier_names == ("basic", "advanced", "enterprise")
    assert lib.resolve_names("basic") == {
        "logging.mdc": "basic",
        "privacy.mdc": "basic",
        "testing.mdc": "basic",
    }
    enterprise = lib.resolve("enterprise")
    assert sorted(enterprise) == [
        "deployment-scale.mdc",
        "logging.mdc",
        "monitoring.mdc",
        "privacy.mdc",
        "security.mdc",
        "testing.mdc",
    ]
    assert enterprise["logging.mdc"].tier == "advanced"
    assert b"structlog" in enterprise["logging.mdc"].data


def test_readme_is_never_a_rule(tmp_path: Path) -> None:
    lib = load_library(make_library(tmp_path / "lib"), "test")
    assert all(name.endswith(".mdc") for name in lib.resolve("enterprise"))


def write_tiers(root: Path, text: str, folders: tuple[str, ...] = ("a", "b")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        (root / folder).mkdir(exist_ok=True)
    (root / "tiers.yaml").write_text(text)
    return root


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tiers:\n  - name: a\n    extends: a\n", "extends itself"),
        (
            "tiers:\n  - name: a\n    extends: b\n  - name: b\n    extends: a\n",
            "a cycle or a later tier",
        ),
        ("tiers:\n  - name: a\n    extends: nowhere\n", "unknown tier"),
        ("tiers:\n  - name: a\n  - name: a\n", "declared twice"),
        ("tiers:\n  - name: a\n  - name: c\n", "folder for tier `c` is missing"),
        ("tiers: []\n", "non-empty list"),
        ("tiers:\n  - name: a\n    colour: red\n", "unknown key `colour`"),
        ("tier:\n  - name: a\n", "unknown key `tier`"),
        ("tiers:\n  - name: Auto Tier\n", "name must be lowercase"),
        ("tiers: [\n", "not valid YAML"),
        (
            "tiers:\n  - name: a\n  - name: b\n"
            "    criteria:\n      - {metric: x, op: '~', value: 1}\n",
            "op must be one of",
        ),
    ],
)
def test_malformed_tiers_yaml_is_a_clear_error_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    root = write_tiers(tmp_path / "lib", text)
    with pytest.raises(InvalidInput) as info:
        load_library(root, "test")
    assert expected in str(info.value)
    assert str(root) in str(info.value)


def test_a_library_symlink_that_leaves_the_library_is_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    secret = tmp_path / "secret.mdc"
    secret.write_text("---\ndescription: secret\n---\n")
    os.symlink(secret, root / "basic" / "stolen.mdc")
    lib = load_library(root, "test")
    with pytest.raises(UnsafePath, match="outside"):
        lib.resolve("basic")


def test_a_tier_folder_symlinked_outside_the_library_is_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    outside = tmp_path / "elsewhere"
    (root / "enterprise").rename(outside)
    os.symlink(outside, root / "enterprise")
    with pytest.raises(UnsafePath, match="outside"):
        load_library(root, "test")


def test_symlinks_inside_the_library_are_followed(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    os.symlink(root / "basic" / "logging.mdc", root / "enterprise" / "audit.mdc")
    assert "audit.mdc" in load_library(root, "test").resolve("enterprise")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("logging.mdc", True),
        ("a..b.mdc", False),
        ("..mdc", False),
        (".hidden.mdc", False),
        ("new\nline.mdc", False),
        ("back\\slash.mdc", False),
        ("readme.md", False),
    ],
)
def test_rule_names_are_plain_file_names(name: str, ok: bool) -> None:
    assert valid_rule_name(name) is ok


def test_a_rule_file_named_with_dots_in_the_library_is_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    (root / "basic" / "evil..mdc").write_text("x")
    with pytest.raises(UnsafePath, match="not a plain rule file name"):
        load_library(root, "test").resolve("basic")


def test_bundled_library_loads_with_three_tiers() -> None:
    from rulesync.library import bundled_root

    lib = load_library(bundled_root(), "default")
    assert lib.tier_names[:3] == ("basic", "advanced", "enterprise")
