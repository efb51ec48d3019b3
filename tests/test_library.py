"""Loading a library: tiers.yaml, `extends`, replacement by name, and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.library import Library, Limits, load_library
from rulesync.names import valid_rule_name
from support.repos import make_library, rulesync


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
        (
            "tiers:\n  - name: auto\n",
            "tiers.yaml:2: tier `auto`: name must be lowercase letters, digits, `-` or `_` "
            "(and not auto), not `auto`",
        ),
        (
            "tiers:\n  - name: a\n    criteria:\n      - {metric: Team-Size, value: 1}\n",
            "tiers.yaml:4: tier `a` criterion 1: metric must be a snake_case name, not `Team-Size`",
        ),
        ("tiers: [\n", "not valid YAML"),
        (
            "tiers:\n  - name: a\n  - name: b\n"
            "    criteria:\n      - {metric: x, op: '~', value: 1}\n",
            "tiers.yaml:5: tier `b` criterion 1: op `~` is not valid; valid values: >=, >",
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


@pytest.mark.parametrize(
    "dropping", [".#logging.mdc", ".logging.mdc.swp", "4913", "logging.mdc~", ".DS_Store", ".x.mdc"]
)
def test_editor_droppings_in_a_tier_folder_are_ignored_never_an_error(
    tmp_path: Path, dropping: str
) -> None:
    root = make_library(tmp_path / "lib")
    (root / "basic" / dropping).write_text("half-saved\n")
    assert list(load_library(root, "test").resolve("basic")) == [
        "logging.mdc",
        "privacy.mdc",
        "testing.mdc",
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [(os.fsencode("caf") + b"\xe9.mdc", "not valid UTF-8"), (b"r" * 240 + b".mdc", "longer than")],
)
def test_a_rule_name_no_later_step_could_write_is_refused_at_load(
    tmp_path: Path, name: bytes, problem: str
) -> None:
    root = make_library(tmp_path / "lib")
    (root / "basic" / os.fsdecode(name)).write_text("x")
    with pytest.raises(UnsafePath, match=problem):
        load_library(root, "test").resolve("basic")


def test_more_tiers_than_the_cap_is_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    with pytest.raises(InvalidInput, match="3 tiers, more than the 2 allowed"):
        load_library(root, "test", limits=Limits(tiers=2))


def test_a_tier_with_more_rules_than_the_cap_is_refused(tmp_path: Path) -> None:
    lib = load_library(make_library(tmp_path / "lib"), "test", limits=Limits(tier_rules=5))
    assert len(lib.resolve("advanced")) == 5
    with pytest.raises(InvalidInput, match="6 rules, more than the 5 allowed"):
        lib.resolve("enterprise")


def test_links_to_one_large_file_are_refused_by_size_before_any_is_read(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    (root / "advanced" / "big.txt").write_bytes(b"x" * (1024 * 1024))
    for index in range(600):
        os.symlink("../advanced/big.txt", root / "basic" / f"copy-{index:03}.mdc")
    lib = load_library(root, "test")
    with pytest.raises(InvalidInput, match="more than the 67108864 bytes allowed"):
        lib.resolve("basic")


def test_a_symlink_is_followed_only_to_a_file_in_the_tier_folders(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    (root / "notes").mkdir()
    (root / "notes" / "private.mdc").write_text("not a tier\n")
    os.symlink("../notes/private.mdc", root / "basic" / "notes.mdc")
    with pytest.raises(UnsafePath, match="outside the library's tier folders"):
        load_library(root, "test").resolve("basic")


def test_every_tier_of_a_long_chain_is_listed_once(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    lines = ["tiers:"]
    for index in range(60):
        (root / f"t{index}").mkdir(parents=True)
        (root / f"t{index}" / f"r{index}.mdc").write_text(f"rule {index}\n")
        lines.append(f"  - name: t{index}" + (f"\n    extends: t{index - 1}" if index else ""))
    (root / "tiers.yaml").write_text("\n".join(lines) + "\n")
    listed: list[str] = []

    class Counting(Library):
        def own_rule_names(self, name: str) -> list[str]:
            listed.append(name)
            return super().own_rule_names(name)

    loaded = load_library(root, "test")
    lib = Counting(**{name: getattr(loaded, name) for name in Library._fields})
    resolved = lib.resolve_all()
    assert sorted(listed) == sorted(lib.tier_names)
    assert list(resolved["t59"]) == sorted(f"r{i}.mdc" for i in range(60))
    assert resolved["t59"]["r0.mdc"].tier == "t0"


def test_the_caps_come_from_the_users_config(tmp_path: Path) -> None:
    from rulesync.config import load_config

    config = tmp_path / "config.yaml"
    config.write_text("max_tier_bytes: 1000\nmax_tier_rules: 3\nmax_tiers: 4\n")
    assert load_config(config).limits == Limits(tier_bytes=1000, tier_rules=3, tiers=4)
    config.write_text("max_tiers: 0\n")
    with pytest.raises(InvalidInput, match="max_tiers must be a whole number"):
        load_config(config)
    assert load_config(tmp_path / "none.yaml").limits == Limits(
        tier_bytes=64 * 1024 * 1024, tier_rules=5000, tiers=64
    )


def test_a_project_whose_tier_passes_the_users_cap_is_refused_before_any_write(
    project: Path, library: Path
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(f"library: {library}\nmax_tier_rules: 2\n")
    proc = rulesync(project, "apply", check=2)
    assert "max_tier_rules" in proc.stderr
    assert not (project / ".cursor").exists()


def test_rules_in_subfolders_resolve_by_path_and_a_higher_tier_replaces_the_same_path(
    tmp_path: Path,
) -> None:
    root = make_library(tmp_path / "lib")
    (root / "basic" / "frontend").mkdir()
    (root / "basic" / "frontend" / "react.mdc").write_text("basic react\n")
    (root / "basic" / "frontend" / ".react.mdc.swp").write_text("vim's swap file")
    (root / "basic" / "frontend" / "notes.md").write_text("not a rule")
    (root / "advanced" / "frontend").mkdir()
    (root / "advanced" / "frontend" / "react.mdc").write_text("advanced react\n")
    lib = load_library(root, "test")
    assert lib.resolve_names("basic")["frontend/react.mdc"] == "basic"
    advanced = lib.resolve("advanced")
    assert advanced["frontend/react.mdc"].data == b"advanced react\n"
    assert advanced["logging.mdc"].tier == "advanced"
    assert "frontend/react.mdc" in lib.all_rule_names()
    assert not any("swp" in name or name.endswith(".md") for name in advanced)


def test_rule_subfolders_nest_at_most_three_deep(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    (root / "basic" / "a" / "b" / "c").mkdir(parents=True)
    (root / "basic" / "a" / "b" / "c" / "ok.mdc").write_text("x\n")
    assert "a/b/c/ok.mdc" in load_library(root, "test").resolve("basic")
    (root / "basic" / "a" / "b" / "c" / "d").mkdir()
    (root / "basic" / "a" / "b" / "c" / "d" / "deep.mdc").write_text("x\n")
    with pytest.raises(InvalidInput, match="nest at most 3 deep"):
        load_library(root, "test").resolve("basic")


def test_a_rule_subfolder_symlinked_out_of_the_library_is_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.mdc").write_text("private\n")
    os.symlink(outside, root / "basic" / "more")
    with pytest.raises(UnsafePath, match="symlink"):
        load_library(root, "test").resolve("basic")


def test_a_rule_subfolder_with_a_control_character_is_refused(tmp_path: Path) -> None:
    root = make_library(tmp_path / "lib")
    (root / "basic" / "bad\nname").mkdir()
    (root / "basic" / "bad\nname" / "x.mdc").write_text("x\n")
    with pytest.raises(UnsafePath, match="control character"):
        load_library(root, "test").resolve("basic")
