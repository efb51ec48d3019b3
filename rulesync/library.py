"""The rules library: `tiers.yaml`, one folder per tier, and tier resolution through `extends`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import ensure_inside, read_regular, sha256_hex
from rulesync.names import (
    folder_name_problem,
    is_ignored_entry,
    is_rule_candidate,
    rule_name_problem,
)
from rulesync.yamlio import check_keys, line_of, load_mapping

TIERS_FILE = "tiers.yaml"
MAX_RULE_BYTES = 1024 * 1024
# Subfolder levels inside a tier folder (`tier/a/b/c/x.mdc` is three).
MAX_RULE_DEPTH = 3
LIBRARY_KEYS = ("version", "name", "description", "tiers")
TIER_KEYS = ("name", "description", "extends", "criteria", "promote_when")
CRITERION_KEYS = ("metric", "op", "value", "group", "label")
POLICY_KEYS = ("min_groups", "group_met")
OPS = (">=", ">", "<=", "<", "==", "!=")
_TIER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RESERVED_PHASES = ("auto",)


def valid_rule_name(name: str) -> bool:
    """A rule name is a plain `*.mdc` file name: no separators, no `..`, no control characters."""
    return (
        name.endswith(".mdc")
        and len(name) > 4
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and ".." not in name
        and not _CONTROL.search(name)
    )


@dataclass(frozen=True)
class Criterion:
    """One promotion criterion: `metric op value`, in a group."""

    metric: str
    op: str
    value: float | bool
    group: str
    label: str


@dataclass(frozen=True)
class Policy:
    """When a tier's criteria promote: `min_groups` groups met; a group met by `group_met`."""

    min_groups: int | None = None
    group_met: str | int = "all"


@dataclass(frozen=True)
class Tier:
    """A tier as declared in tiers.yaml."""

    name: str
    description: str
    extends: str | None
    criteria: tuple[Criterion, ...] = ()
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True)
class RuleFile:
    """One rule as the library provides it: its path inside the tier (`frontend/react.mdc`),
    the tier that supplied it, bytes and digest."""

    name: str
    tier: str
    path: Path
    data: bytes
    sha256: str


@dataclass(frozen=True)
class Library:
    """A loaded rules library."""

    root: Path
    label: str
    name: str
    description: str
    tiers: tuple[Tier, ...]
    revision: str | None = None

    def tier(self, name: str) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    @property
    def tier_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)

    def chain(self, name: str) -> list[Tier]:
        """The tier and its ancestors, root ancestor first."""
        chain: list[Tier] = []
        current: str | None = name
        while current is not None:
            tier = self.tier(current)
            chain.append(tier)
            current = tier.extends
        return list(reversed(chain))

    def tier_dir(self, name: str) -> Path:
        return self.root / name

    def own_rule_names(self, name: str) -> list[str]:
        """The rules in one tier's own folder and its subfolders, as sorted relative POSIX
        paths (`frontend/react.mdc`), refusing unsafe names; editor droppings are ignored."""
        folder = self.tier_dir(name)
        if not folder.is_dir():
            raise InvalidInput(
                f"{folder}: folder for tier `{name}` is missing; create it or fix {TIERS_FILE}"
            )
        return sorted(self._walk(folder, ""))

    def _walk(self, folder: Path, prefix: str) -> list[str]:
        found: list[str] = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if is_ignored_entry(entry.name):
                continue
            if entry.is_dir():
                if entry.is_symlink():
                    ensure_inside(Path(entry.path), self.root, "library folder")
                problem = folder_name_problem(entry.name)
                if problem is not None:
                    raise UnsafePath(f"{entry.path}: {problem}; rename the folder")
                if prefix.count("/") + 1 > MAX_RULE_DEPTH:
                    raise InvalidInput(
                        f"{entry.path}: rule folders nest at most {MAX_RULE_DEPTH} deep in a "
                        "tier; move its rules up"
                    )
                found += self._walk(Path(entry.path), f"{prefix}{entry.name}/")
            elif is_rule_candidate(entry.name):
                if rule_name_problem(entry.name) is not None:
                    raise UnsafePath(
                        f"{folder}: {entry.name!r} is not a plain rule file name; rename it"
                    )
                found.append(prefix + entry.name)
        return found

    def resolve_names(self, name: str) -> dict[str, str]:
        """Map rule path → the tier whose folder supplies it (a higher tier's same path
        replaces the parent's)."""
        resolved: dict[str, str] = {}
        for tier in self.chain(name):
            for rule in self.own_rule_names(tier.name):
                resolved[rule] = tier.name
        return dict(sorted(resolved.items()))

    def read_rule(self, tier: str, name: str) -> RuleFile:
        """Read one rule's bytes (`name` a relative path), refusing a symlink that leaves the
        library."""
        path = self.tier_dir(tier) / name
        try:
            data = read_regular(path, limit=MAX_RULE_BYTES, follow=False, what="rule file")
        except UnsafePath:
            # A symlink: followed only when it stays inside the library (tier folders were
            # checked at load, so plain files need no realpath).
            ensure_inside(path, self.root, "library rule")
            data = read_regular(path, limit=MAX_RULE_BYTES, what="rule file")
        return RuleFile(name=name, tier=tier, path=path, data=data, sha256=sha256_hex(data))

    def resolve(self, name: str) -> dict[str, RuleFile]:
        """The tier's full rule set, read from disk: relative path → RuleFile."""
        return {rule: self.read_rule(tier, rule) for rule, tier in self.resolve_names(name).items()}

    def all_rule_names(self) -> set[str]:
        """Every rule path any tier of the library provides."""
        return {rule for tier in self.tiers for rule in self.own_rule_names(tier.name)}


def bundled_root() -> Path:
    """The default library shipped inside the package (or beside it in a source checkout)."""
    from importlib.resources import files

    packaged = Path(str(files("rulesync"))) / "rules"
    if (packaged / TIERS_FILE).is_file():
        return packaged
    # An editable install or a source checkout keeps the library at the repository's top.
    return Path(__file__).resolve().parent.parent / "rules"


def _mapping(raw: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    """`raw` as a mapping with only `allowed` keys, or a clear error naming them."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be a mapping with {', '.join(allowed)}")
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise InvalidInput(f"{where}: unknown key `{unknown[0]}`; valid keys: {', '.join(allowed)}")
    return raw


def _criterion(raw: Any, path: Path, tier: str, index: int) -> Criterion:
    where = f"{path}: tier `{tier}` criterion {index + 1}"
    raw = _mapping(raw, CRITERION_KEYS, where)
    metric = raw.get("metric")
    if not isinstance(metric, str) or not _METRIC_NAME.match(metric):
        raise InvalidInput(f"{where}: metric must be a snake_case name")
    op = raw.get("op", ">=")
    if op not in OPS:
        raise InvalidInput(f"{where}: op must be one of {' '.join(OPS)}")
    value = raw.get("value")
    if isinstance(value, bool):
        if op not in ("==", "!="):
            raise InvalidInput(f"{where}: a true/false value takes op == or !=")
    elif not isinstance(value, int | float):
        raise InvalidInput(f"{where}: value must be a number or true/false")
    group = raw.get("group", "criteria")
    label = raw.get("label", "")
    if not isinstance(group, str) or not isinstance(label, str):
        raise InvalidInput(f"{where}: group and label must be text")
    return Criterion(metric=metric, op=op, value=value, group=group, label=label)


def _policy(raw: Any, path: Path, tier: str) -> Policy:
    where = f"{path}: tier `{tier}` promote_when"
    if raw is None:
        return Policy()
    raw = _mapping(raw, POLICY_KEYS, where)
    min_groups = raw.get("min_groups")
    if min_groups is not None and (
        isinstance(min_groups, bool) or not isinstance(min_groups, int) or min_groups < 1
    ):
        raise InvalidInput(f"{where}: min_groups must be a whole number ≥ 1")
    group_met = raw.get("group_met", "all")
    if group_met not in ("all", "any") and (
        isinstance(group_met, bool) or not isinstance(group_met, int) or group_met < 1
    ):
        raise InvalidInput(f"{where}: group_met must be all, any or a whole number ≥ 1")
    return Policy(min_groups=min_groups, group_met=group_met)


def _tiers(data: dict[str, Any], path: Path) -> tuple[Tier, ...]:
    raw_tiers = data.get("tiers")
    if not isinstance(raw_tiers, list) or not raw_tiers:
        raise InvalidInput(f"{path}:{line_of(data, 'tiers')}: `tiers` must be a non-empty list")
    tiers: list[Tier] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_tiers):
        if not isinstance(raw, dict):
            raise InvalidInput(f"{path}: tier {index + 1} must be a mapping with a `name`")
        unknown = [k for k in raw if k not in TIER_KEYS]
        if unknown:
            raise InvalidInput(
                f"{path}: tier {index + 1}: unknown key `{unknown[0]}`; "
                f"valid keys: {', '.join(TIER_KEYS)}"
            )
        name = raw.get("name")
        if not isinstance(name, str) or not _TIER_NAME.match(name) or name in RESERVED_PHASES:
            raise InvalidInput(
                f"{path}: tier {index + 1}: name must be lowercase letters, digits, `-` or `_` "
                f"(and not {', '.join(RESERVED_PHASES)})"
            )
        if name in seen:
            raise InvalidInput(f"{path}: tier `{name}` is declared twice; rename or remove one")
        extends = raw.get("extends")
        if extends is not None:
            if extends == name:
                raise InvalidInput(f"{path}: tier `{name}` extends itself (a cycle); fix `extends`")
            if not isinstance(extends, str) or extends not in seen:
                later = any(isinstance(t, dict) and t.get("name") == extends for t in raw_tiers)
                hint = (
                    "a cycle or a later tier; a tier extends an earlier one"
                    if later
                    else "unknown tier"
                )
                raise InvalidInput(f"{path}: tier `{name}` extends `{extends}`: {hint}")
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise InvalidInput(f"{path}: tier `{name}`: description must be text")
        criteria_raw = raw.get("criteria") or []
        if not isinstance(criteria_raw, list):
            raise InvalidInput(f"{path}: tier `{name}`: criteria must be a list")
        criteria = tuple(_criterion(c, path, name, i) for i, c in enumerate(criteria_raw))
        seen.add(name)
        tiers.append(
            Tier(name, description, extends, criteria, _policy(raw.get("promote_when"), path, name))
        )
    return tuple(tiers)


def load_library(root: Path, label: str, revision: str | None = None) -> Library:
    """Load `tiers.yaml` from a library folder and check every tier's folder stays inside it."""
    tiers_path = root / TIERS_FILE
    if not root.is_dir():
        raise InvalidInput(f"{root}: library folder not found; check the `library` setting")
    ensure_inside(tiers_path, root, "tiers.yaml")
    data = load_mapping(tiers_path, "tiers.yaml")
    check_keys(data, LIBRARY_KEYS, tiers_path, "tiers.yaml")
    version = data.get("version", 1)
    if version != 1:
        raise InvalidInput(
            f"{tiers_path}:{line_of(data, 'version')}: version {version!r} is not supported (use 1)"
        )
    tiers = _tiers(data, tiers_path)
    for tier in tiers:
        folder = root / tier.name
        if os.path.islink(folder) or folder.exists():
            ensure_inside(folder, root, f"tier `{tier.name}` folder")
        if not folder.is_dir():
            raise InvalidInput(
                f"{folder}: folder for tier `{tier.name}` is missing; create it or fix {TIERS_FILE}"
            )
    name = data.get("name", root.name)
    description = data.get("description", "")
    return Library(
        root=root,
        label=label,
        name=str(name),
        description=str(description),
        tiers=tiers,
        revision=revision,
    )
