"""The rules library: `tiers.yaml`, one folder per tier, and tier resolution through `extends`."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import check_regular, ensure_inside, is_inside, read_regular, sha256_hex
from rulesync.names import (
    is_ignored_entry,
    is_rule_candidate,
    part_problem,
    rule_name_problem,
    shown_name,
)
from rulesync.yamlio import check_keys, line_of, load_mapping

TIERS_FILE = "tiers.yaml"
MAX_RULE_BYTES = 1024 * 1024
# Subfolder levels inside a tier folder (`tier/a/b/c/x.mdc` is three).
MAX_RULE_DEPTH = 3
LIBRARY_KEYS = ("version", "name", "description", "tiers", "budget")
BUDGET_KEYS = ("always_tokens",)
TIER_KEYS = ("name", "description", "extends", "criteria", "promote_when")
CRITERION_KEYS = ("metric", "op", "value", "group", "label")
POLICY_KEYS = ("min_groups", "group_met")
OPS = (">=", ">", "<=", "<", "==", "!=")
_TIER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_PHASES = ("auto",)


@dataclass(frozen=True)
class Limits:
    """How much one library may make rulesync read and write: a small repository must not be
    able to fill the user's memory or disk (the user's config.yaml may raise them)."""

    tier_bytes: int = 64 * 1024 * 1024
    tier_rules: int = 5000
    tiers: int = 64


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
    """A loaded rules library. `project` is the project root when the library lies inside the
    project (a cloned repository's own folder), which is read under stricter rules."""

    root: Path
    label: str
    name: str
    description: str
    tiers: tuple[Tier, ...]
    revision: str | None = None
    # `budget: {always_tokens: N}`: the estimated tokens a tier may load on every request.
    always_tokens_budget: int | None = None
    limits: Limits = field(default_factory=Limits)
    project: Path | None = None

    @cached_property
    def _by_name(self) -> dict[str, Tier]:
        return {t.name: t for t in self.tiers}

    def tier(self, name: str) -> Tier:
        return self._by_name[name]

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
        paths (`frontend/react.mdc`), refusing unusable names; editor droppings and hidden
        files are skipped."""
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
                path = Path(entry.path)
                if entry.is_symlink() and (
                    self.project is not None or not self._in_tier_folders(path)
                ):
                    raise UnsafePath(
                        f"{path}: a rule folder may not be a symlink inside the project or "
                        "lead outside the library's tier folders; make it a real folder"
                    )
                problem = part_problem(entry.name)
                if problem is not None:
                    raise UnsafePath(f"{folder}: {shown_name(entry.name)}: {problem}; rename it")
                if prefix.count("/") + 1 > MAX_RULE_DEPTH:
                    raise InvalidInput(
                        f"{path}: rule folders nest at most {MAX_RULE_DEPTH} deep in a tier; "
                        "move its rules up"
                    )
                found += self._walk(path, f"{prefix}{entry.name}/")
            elif is_rule_candidate(entry.name):
                problem = rule_name_problem(entry.name)
                if problem is not None:
                    raise UnsafePath(
                        f"{folder}: {shown_name(entry.name)} is not a plain rule file name "
                        f"({problem}); rename it"
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
        """Read one rule's bytes, refusing a symlink that leaves the library's tier folders."""
        self._rule_size(tier, name)
        return self._read(tier, name)

    def resolve(self, name: str) -> dict[str, RuleFile]:
        """The tier's full rule set, read from disk: name → RuleFile. Every rule is checked
        (links, git-ignored files, the caps) before the first byte of any is read."""
        names = self.resolve_names(name)
        self._check_set(name, names)
        return {rule: self._read(tier, rule) for rule, tier in names.items()}

    def resolve_all(self) -> dict[str, dict[str, RuleFile]]:
        """Every tier's full rule set (tier → name → RuleFile), listing and reading each tier's
        folder once however long the `extends` chains are."""
        resolved: dict[str, dict[str, str]] = {}
        for tier in self.tiers:
            # A tier extends an earlier one (checked at load), so its parent is resolved.
            names = dict(resolved[tier.extends]) if tier.extends else {}
            names.update((rule, tier.name) for rule in self.own_rule_names(tier.name))
            resolved[tier.name] = dict(sorted(names.items()))
        sizes: dict[tuple[str, str], int] = {}
        for tier_name, names in resolved.items():
            self._check_set(tier_name, names, sizes)
        files = {key: self._read(*key) for key in sizes}
        return {
            t: {r: files[(src, r)] for r, src in names.items()} for t, names in resolved.items()
        }

    def all_rule_names(self) -> set[str]:
        """Every rule path any tier of the library provides."""
        return {rule for tier in self.tiers for rule in self.own_rule_names(tier.name)}

    def provided_hashes(self, names: Iterable[str]) -> dict[str, frozenset[str]]:
        """For each of `names`, the sha256 of every version of it some tier provides."""
        wanted = set(names)
        found: dict[str, set[str]] = {n: set() for n in wanted}
        if not wanted:
            return {}
        for tier in self.tiers:
            for rule in wanted.intersection(self.own_rule_names(tier.name)):
                found[rule].add(self.read_rule(tier.name, rule).sha256)
        return {n: frozenset(h) for n, h in found.items()}

    def _check_set(
        self, tier: str, names: Mapping[str, str], sizes: dict[tuple[str, str], int] | None = None
    ) -> None:
        """Refuse a tier's rule set before anything is read: too many rules, too many bytes
        (sizes from stat, so 600 links to one large file are never read), unsafe links, and in a
        library inside the project any rule file git ignores (a private file)."""
        limits = self.limits
        if len(names) > limits.tier_rules:
            raise InvalidInput(
                f"{self.tier_dir(tier)}: tier `{tier}` has {len(names)} rules, more than the "
                f"{limits.tier_rules} allowed (max_tier_rules in the rulesync config)"
            )
        known = {} if sizes is None else sizes
        total = 0
        for rule, source in names.items():
            key = (source, rule)
            if key not in known:
                known[key] = self._rule_size(source, rule)
            total += known[key]
            if total > limits.tier_bytes:
                raise InvalidInput(
                    f"{self.tier_dir(tier)}: tier `{tier}` holds more than the "
                    f"{limits.tier_bytes} bytes allowed (max_tier_bytes in the rulesync config)"
                )
        self._refuse_ignored(names)

    def _rule_size(self, tier: str, name: str) -> int:
        """A rule file's size from stat, refusing links that may not be followed."""
        path = self.tier_dir(tier) / name
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            if self.project is not None:
                raise UnsafePath(
                    f"{path}: a rule file inside the project may not be a symlink; "
                    "replace it with the file itself"
                )
            if not self._in_tier_folders(path):
                raise UnsafePath(
                    f"{path}: symlink leads outside the library's tier folders "
                    f"(to {os.path.realpath(path)}); remove it or point it at a rule file"
                )
            info = os.stat(path)
        return check_regular(path, info, limit=MAX_RULE_BYTES, what="rule file")

    def _in_tier_folders(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        for tier in self.tiers:
            folder = Path(os.path.realpath(self.tier_dir(tier.name)))
            if is_inside(real, folder) and ".git" not in real.relative_to(folder).parts:
                return True
        return False

    def _read(self, tier: str, name: str) -> RuleFile:
        path = self.tier_dir(tier) / name
        # Inside the project nothing is read through a link, even one swapped in since the
        # check; elsewhere a link was checked to stay in the tier folders.
        follow = self.project is None and os.path.islink(path)
        data = read_regular(path, limit=MAX_RULE_BYTES, follow=follow, what="rule file")
        return RuleFile(name=name, tier=tier, path=path, data=data, sha256=sha256_hex(data))

    def _refuse_ignored(self, names: Mapping[str, str]) -> None:
        if self.project is None or not names:
            return
        from rulesync.git import find_git, ignored_paths

        git = find_git(self.project)
        if git is None:
            return
        top = os.path.realpath(git.top)
        paths = {
            os.path.relpath(os.path.realpath(self.tier_dir(tier) / rule), top): tier
            for rule, tier in names.items()
        }
        ignored = ignored_paths(git.top, sorted(paths))
        if ignored:
            first = sorted(ignored)[0]
            raise UnsafePath(
                f"{os.path.join(top, first)}: git ignores this rule file, so it may be private; "
                "rulesync never copies it into a commit. Stop ignoring it or move it out of the "
                "library"
            )


def bundled_root() -> Path:
    """The default library shipped inside the package (or beside it in a source checkout)."""
    # The package's own folder, as `importlib.resources.files("rulesync")` names it for an
    # installed package, without that module's start-up cost.
    packaged = Path(__file__).parent / "rules"
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


def _budget(raw: Any, path: Path) -> int | None:
    """`budget.always_tokens` as a whole number ≥ 1, or None when no budget is set."""
    if raw is None:
        return None
    raw = _mapping(raw, BUDGET_KEYS, f"{path}: budget")
    tokens = raw.get("always_tokens")
    if tokens is not None and (
        isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1
    ):
        raise InvalidInput(f"{path}: budget.always_tokens must be a whole number ≥ 1")
    return tokens


def _check_inside_project(root: Path, project: Path) -> None:
    """A library inside the project holds only rules: not the project itself, no repository,
    nothing under `.git` (where a remote URL with its token lives)."""
    real = Path(os.path.realpath(root))
    base = Path(os.path.realpath(project))
    if real == base:
        raise UnsafePath(
            f"{root}: the project itself cannot be its rules library; "
            "name a folder inside it that holds only rules"
        )
    if ".git" in real.relative_to(base).parts:
        raise UnsafePath(f"{root}: a library inside `.git` is never read; name another folder")
    if os.path.lexists(real / ".git"):
        raise UnsafePath(
            f"{root}: a library inside the project may not hold `.git`; "
            "name a folder that holds only rules"
        )


def load_library(
    root: Path,
    label: str,
    revision: str | None = None,
    *,
    limits: Limits | None = None,
    project: Path | None = None,
) -> Library:
    """Load `tiers.yaml` from a library folder and check every tier's folder stays inside it.

    `project` is the project root when the library lies inside the project: then no tier
    folder (and no rule file, checked when read) may be a symlink.
    """
    limits = limits or Limits()
    tiers_path = root / TIERS_FILE
    if not root.is_dir():
        raise InvalidInput(f"{root}: library folder not found; check the `library` setting")
    if project is not None:
        _check_inside_project(root, project)
        if os.path.islink(tiers_path):
            raise UnsafePath(f"{tiers_path}: may not be a symlink inside the project")
    ensure_inside(tiers_path, root, "tiers.yaml")
    data = load_mapping(tiers_path, "tiers.yaml")
    check_keys(data, LIBRARY_KEYS, tiers_path, "tiers.yaml")
    version = data.get("version", 1)
    if version != 1:
        raise InvalidInput(
            f"{tiers_path}:{line_of(data, 'version')}: version {version!r} is not supported (use 1)"
        )
    tiers = _tiers(data, tiers_path)
    if len(tiers) > limits.tiers:
        raise InvalidInput(
            f"{tiers_path}: {len(tiers)} tiers, more than the {limits.tiers} allowed "
            "(max_tiers in the rulesync config)"
        )
    for tier in tiers:
        folder = root / tier.name
        if os.path.islink(folder) and project is not None:
            raise UnsafePath(
                f"{folder}: a tier folder inside the project may not be a symlink; "
                "make it a real folder"
            )
        if os.path.islink(folder) or folder.exists():
            ensure_inside(folder, root, f"tier `{tier.name}` folder")
            inner = Path(os.path.realpath(folder)).relative_to(os.path.realpath(root))
            if ".git" in inner.parts:
                raise UnsafePath(f"{folder}: a tier folder inside `.git` is never read")
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
        always_tokens_budget=_budget(data.get("budget"), tiers_path),
        limits=limits,
        project=project,
    )
