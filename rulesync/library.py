"""The rules library: `tiers.yaml`, one folder per tier, and tier resolution through `extends`."""

import os
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import check_regular, ensure_inside, is_inside, read_regular, sha256_hex
from rulesync.hidden import ALLOW_KEY
from rulesync.hidden import refusal as hidden_refusal
from rulesync.names import (
    is_ignored_entry,
    is_rule_candidate,
    part_problem,
    rule_name_problem,
    shown_name,
)
from rulesync.schema import (
    AnyOf,
    Choice,
    Field,
    Flag,
    ListOf,
    MapOf,
    Number,
    Schema,
    Text,
    shown,
    validate,
    where,
)
from rulesync.sources import GIT_MEASURES, KINDS
from rulesync.suggest import did_you_mean
from rulesync.yamlio import Parsed, load_mapping

TIERS_FILE = "tiers.yaml"
MAX_RULE_BYTES = 1024 * 1024
# Subfolder levels inside a tier folder (`tier/a/b/c/x.mdc` is three).
MAX_RULE_DEPTH = 3
OPS = (">=", ">", "<=", "<", "==", "!=")
RESERVED_PHASES = ("auto",)
_TIER_NAME = Text(
    f"lowercase letters, digits, `-` or `_` (and not {', '.join(RESERVED_PHASES)})",
    pattern=rf"(?!(?:{'|'.join(RESERVED_PHASES)})$)[a-z0-9][a-z0-9_-]*",
)
_WHOLE = Number(low=1, whole=True)

CRITERION_SCHEMA = Schema(
    (
        Field(
            "metric",
            Text("a snake_case name", pattern="[a-z][a-z0-9_]*"),
            required=True,
            example="metric: developers",
        ),
        Field("op", Choice(OPS), ">="),
        Field(
            "value",
            AnyOf((Number(), Flag()), "a number or true/false"),
            required=True,
            example="value: 2",
        ),
        Field("group", Text(blank=True), "criteria"),
        Field("label", Text(blank=True), ""),
    ),
    "a mapping with metric, op and value",
)
POLICY_SCHEMA = Schema(
    (
        Field("min_groups", _WHOLE),
        Field(
            "group_met",
            AnyOf((Choice(("all", "any")), _WHOLE), "all, any or a whole number ≥ 1"),
            "all",
        ),
        # Days the policy must have been met before `phase: auto` promotes (0: at once).
        Field("settle_days", Number(low=0, whole=True), 0),
    )
)
# How one metric is measured: exactly one kind key (git, files, prometheus, file) and the
# options that kind takes (rulesync.evidence measures it; docs/reference/tiers-metrics.md).
SOURCE_KINDS = KINDS
SOURCE_OPTIONS = {
    "git": ("days", "path", "exclude"),
    "files": ("present", "pattern"),
    "prometheus": (),
    "file": ("key",),
}
SOURCE_SCHEMA = Schema(
    (
        Field(
            "git",
            Choice(GIT_MEASURES, noun="git figure"),
        ),
        Field("files", Text("a glob inside the project")),
        Field("prometheus", Text("a PromQL query")),
        Field("file", Text("a JSON file inside the project")),
        Field("days", Number(low=1, whole=True)),
        Field("path", Text("a path inside the project")),
        Field("exclude", Text("a regular expression")),
        Field("present", Flag(), False),
        Field("pattern", Text("a regular expression")),
        Field("key", Text("a key (dotted for a nested one)")),
    ),
    "a mapping with one of git, files, prometheus, file",
)
TIER_SCHEMA = Schema(
    (
        Field("name", _TIER_NAME, required=True, example="name: basic"),
        Field("description", Text(blank=True), ""),
        Field("extends", Text("an earlier tier's name")),
        Field("criteria", ListOf(CRITERION_SCHEMA, "a list of criteria", noun="criterion"), ()),
        Field("promote_when", POLICY_SCHEMA),
    ),
    "a mapping with a `name`",
)
# tiers.yaml, in the order messages list its keys.
TIERS_SCHEMA = Schema(
    (
        Field("version", Choice((1,)), 1),
        Field("name", Text(blank=True)),
        Field("description", Text(blank=True), ""),
        Field(
            "tiers",
            ListOf(TIER_SCHEMA, "a non-empty list of tiers", non_empty=True, noun="tier"),
            required=True,
            example="tiers: [{name: basic}]",
        ),
        Field("budget", Schema((Field("always_tokens", _WHOLE),))),
        Field("metrics", MapOf(SOURCE_SCHEMA, noun="metric"), {}),
        # Rules (their path in the tier without `.mdc`) that may hold invisible characters
        # (`rulesync.hidden`): an emoji's zero-width joiner, a right-to-left mark.
        Field(ALLOW_KEY, ListOf(Text("a rule name"), "a list of rule names"), ()),
    )
)


class Limits(NamedTuple):
    """How much one library may make rulesync read and write: a small repository must not be
    able to fill the user's memory or disk (the user's config.yaml may raise them)."""

    tier_bytes: int = 64 * 1024 * 1024
    tier_rules: int = 5000
    tiers: int = 64
    # One sync, in total: bytes read (library and project) and written across every target,
    # files read or written under the project, and the bytes of any one file there.
    sync_bytes: int = 128 * 1024 * 1024
    sync_files: int = 30000
    file_bytes: int = 8 * 1024 * 1024


class Criterion(NamedTuple):
    """One promotion criterion: `metric op value`, in a group."""

    metric: str
    op: str
    value: float | bool
    group: str
    label: str


class Policy(NamedTuple):
    """When a tier's criteria promote: `min_groups` groups met; a group met by `group_met`;
    with `phase: auto`, only once met for `settle_days` days."""

    min_groups: int | None = None
    group_met: str | int = "all"
    settle_days: int = 0


class Source(NamedTuple):
    """How tiers.yaml says one metric is measured: its `kind` and what (`what`: the git
    figure, the glob, the PromQL query or the JSON file), with the kind's options."""

    metric: str
    kind: str
    what: str
    days: int | None = None
    path: str = ""
    exclude: str = ""
    present: bool = False
    pattern: str = ""
    key: str = ""

    def describe(self) -> str:
        """`git: authors in 90 days`, `files: src/*/domains/*/`, `prometheus: up`, …"""
        if self.kind == "git":
            from rulesync.sources import DEFAULT_DAYS

            days = self.days or DEFAULT_DAYS.get(self.what)
            text = f"git: {self.what.replace('_', ' ')}"
            if self.path:
                text += f" of {self.path}"
            return text + (f" in {days} days" if days else "")
        if self.kind == "files":
            if self.present:
                return f"files: any {self.what}"
            if self.pattern:
                return f"files: lines of {self.what} matching {self.pattern}"
            return f"files: {self.what}"
        if self.kind == "file":
            return f"file: {self.what} {self.key}"
        return f"prometheus: {self.what}"


class Tier(NamedTuple):
    """A tier as declared in tiers.yaml."""

    name: str
    description: str
    extends: str | None
    criteria: tuple[Criterion, ...] = ()
    policy: Policy = Policy()


class AutoChoice(NamedTuple):
    """What `phase: auto` selects from the evidence: the tier, the criteria that moved it
    (with their sources), every measured figure (for the commit body), the tier the figures
    point below the current one (never taken by itself), and the tiers met now but still
    settling as (tier, days met, days needed)."""

    tier: str
    reasons: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    would_demote: str | None = None
    settling: tuple[tuple[str, int, int], ...] = ()


class RuleFile(NamedTuple):
    """One rule as the library provides it: its path inside the tier (`frontend/react.mdc`),
    the tier that supplied it, bytes and digest."""

    name: str
    tier: str
    path: Path
    data: bytes
    sha256: str


class Library(NamedTuple):
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
    limits: Limits = Limits()
    project: Path | None = None
    # tiers.yaml's `metrics:`: how each metric is measured, by metric name.
    sources: Mapping[str, Source] = MappingProxyType({})
    # Rules tiers.yaml lets hold invisible characters (`allow_hidden_characters`).
    allow_hidden: frozenset[str] = frozenset()

    def tier(self, name: str) -> Tier:
        # A scan, not a cached index: a library has a few tiers (at most `Limits.tiers`).
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

    def resolve(self, name: str) -> dict[str, RuleFile]:
        """The tier's full rule set, read from disk: name → RuleFile. Every rule is checked
        (links, git-ignored files, the caps) before the first byte of any is read."""
        names = self.resolve_names(name)
        self._check_set(name, names)
        rules = {rule: self._read(tier, rule) for rule, tier in names.items()}
        for rule in rules.values():
            self.refuse_hidden(rule.path, rule.data, rule.name)
        return rules

    def refuse_hidden(self, path: Path | str, data: bytes, rule: str = "") -> None:
        """Refuse text holding an invisible character (`rulesync.hidden`), unless it is the
        rule `rule` (`frontend/react.mdc`) and tiers.yaml allows it."""
        name = rule.removesuffix(".mdc")
        if rule and name in self.allow_hidden:
            return
        problem = hidden_refusal(str(path), data, name)
        if problem is not None:
            raise InvalidInput(problem)

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
        # check; elsewhere a link was checked to stay in the tier folders. Opened without
        # following first: a plain rule costs no second lstat.
        try:
            data = read_regular(path, limit=MAX_RULE_BYTES, follow=False, what="rule file")
        except UnsafePath:
            if self.project is not None:
                raise
            data = read_regular(path, limit=MAX_RULE_BYTES, what="rule file")
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


def _tiers(values: Sequence[dict[str, Any]], parsed: Parsed, path: Path) -> tuple[Tier, ...]:
    """The tiers from checked values, refusing what the schema cannot say: a name declared
    twice, and an `extends` that is not an earlier tier."""
    tiers: list[Tier] = []
    seen: set[str] = set()
    for index, raw in enumerate(values):
        name: str = raw["name"]

        def at(*key: str | int, index: int = index) -> str:
            return where(path, parsed.line("tiers", index, *key))

        if name in seen:
            raise InvalidInput(
                f"{at('name')}: tier `{name}` is declared twice; rename or remove one"
            )
        extends: str | None = raw["extends"]
        if extends == name:
            raise InvalidInput(
                f"{at('extends')}: tier `{name}` extends itself (a cycle); fix `extends`"
            )
        if extends is not None and extends not in seen:
            if any(t["name"] == extends for t in values):
                hint = "a cycle or a later tier; a tier extends an earlier one"
            else:
                earlier = ", ".join(t["name"] for t in values[:index]) or "none"
                hint = f"unknown tier{did_you_mean(extends, seen)}; earlier tiers: {earlier}"
            raise InvalidInput(f"{at('extends')}: tier `{name}` extends {shown(extends)}: {hint}")
        criteria = tuple(
            _criterion(c, partial(at, "criteria", i), name, i)
            for i, c in enumerate(raw["criteria"])
        )
        seen.add(name)
        policy = Policy(**raw["promote_when"])
        tiers.append(Tier(name, raw["description"], extends, criteria, policy))
    return tuple(tiers)


def _criterion(raw: dict[str, Any], at: Callable[[str], str], tier: str, index: int) -> Criterion:
    """A checked criterion, refusing a true/false value compared by anything but `==` or
    `!=`."""
    which = f"tier `{tier}` criterion {index + 1}"
    metric, op, value = raw["metric"], raw["op"], raw["value"]
    if isinstance(value, bool) and op not in ("==", "!="):
        raise InvalidInput(f"{at('op')}: {which}: a true/false value takes op == or !=, not {op}")
    return Criterion(metric=metric, op=op, value=value, group=raw["group"], label=raw["label"])


def _sources(
    values: Mapping[str, dict[str, Any]], tiers: Sequence[Tier], parsed: Parsed, path: Path
) -> dict[str, Source]:
    """The checked `metrics:` section: each entry one kind with that kind's options, a
    PromQL query that parses, a path or glob that stays inside the project, a metric some
    criterion names."""
    from rulesync.sources import path_problem, pattern_problem, promql_problem

    named = {c.metric for t in tiers for c in t.criteria}
    sources: dict[str, Source] = {}
    for metric, raw in values.items():

        def at(*key: str, metric: str = metric) -> str:
            return where(path, parsed.line("metrics", metric, *key))

        given = [k for k in SOURCE_KINDS if raw[k] is not None]
        if len(given) != 1:
            which = "none" if not given else " and ".join(given)
            raise InvalidInput(
                f"{at()}: metric `{metric}`: give exactly one source kind "
                f"({', '.join(SOURCE_KINDS)}), not {which}"
            )
        kind = given[0]
        for option in ("days", "path", "exclude", "pattern", "key"):
            if raw[option] is not None and option not in SOURCE_OPTIONS[kind]:
                raise InvalidInput(
                    f"{at(option)}: metric `{metric}`: `{option}` does not go with `{kind}`; "
                    f"{kind} takes: {', '.join(SOURCE_OPTIONS[kind]) or 'nothing else'}"
                )
        if raw["present"] and kind != "files":
            raise InvalidInput(f"{at('present')}: metric `{metric}`: `present` goes with `files`")
        what: str = raw[kind]
        problem: str | None = None
        fix = ""
        if kind == "prometheus":
            problem, fix = promql_problem(what), "fix the query"
        elif kind in ("files", "file"):
            problem, fix = path_problem(what), "name a path inside the project"
        if problem is None and kind == "file" and any(c in what for c in "*?["):
            problem, fix = "a glob", "name one file"
        if problem is not None:
            raise InvalidInput(f"{at(kind)}: metric `{metric}`: {shown(what)}: {problem}; {fix}")
        for option, check in (
            ("path", path_problem),
            ("exclude", pattern_problem),
            ("pattern", pattern_problem),
        ):
            if raw[option] is not None and (problem := check(raw[option])) is not None:
                raise InvalidInput(f"{at(option)}: metric `{metric}`: `{option}`: {problem}")
        if raw["days"] is not None and raw["days"] > 3650:
            raise InvalidInput(f"{at('days')}: metric `{metric}`: `days` is at most 3650")
        if raw["days"] is not None and kind == "git" and what == "age_days":
            raise InvalidInput(f"{at('days')}: metric `{metric}`: age_days takes no `days`")
        if kind == "git" and (what == "contributors") != (raw["path"] is not None):
            raise InvalidInput(
                f"{at(kind)}: metric `{metric}`: `path` goes with git: contributors, and only "
                "with it (e.g. `{git: contributors, path: src/payments}`)"
            )
        if kind == "file" and raw["key"] is None:
            raise InvalidInput(
                f"{at(kind)}: metric `{metric}`: a `file` source needs `key` "
                f"(e.g. `{{file: {what}, key: {metric}}}`)"
            )
        if raw["present"] and raw["pattern"] is not None:
            raise InvalidInput(
                f"{at('pattern')}: metric `{metric}`: `present` or `pattern`, not both"
            )
        if metric not in named:
            raise InvalidInput(
                f"{at()}: metric `{metric}` is named by no criterion{did_you_mean(metric, named)}; "
                f"the criteria's metrics: {', '.join(sorted(named)) or 'none'}"
            )
        sources[metric] = Source(
            metric=metric,
            kind=kind,
            what=what,
            days=raw["days"],
            path=(raw["path"] or "").rstrip("/"),
            exclude=raw["exclude"] or "",
            present=raw["present"],
            pattern=raw["pattern"] or "",
            key=raw["key"] or "",
        )
    return sources


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


# Libraries loaded, kept while the folders and the tiers.yaml they were loaded from are as they
# were (a long-lived process, the service, loads one library for each of thousands of
# projects): (folder, label, revision, limits, project) → (signature, library).
_LOADED: dict[tuple[object, ...], tuple[tuple[tuple[int, ...], ...], Library]] = {}
_LOADED_MAX = 32
# A library whose files changed this recently (seconds) when it was loaded is not kept: a
# filesystem stamps times from a coarse clock, so a second change so soon may leave them as
# they were.
STABLE_AFTER = 2.0


def _signature(root: Path, tiers: Sequence[str]) -> tuple[tuple[int, ...], ...] | None:
    """What load_library read a library from, as stat sees it: its folder, tiers.yaml and each
    tier's folder, each followed and not (a link swapped is a change too)."""
    seen = []
    try:
        for path in (root, root / TIERS_FILE, *(root / name for name in tiers)):
            for follow in (False, True):
                st = os.stat(path, follow_symlinks=follow)
                seen.append(
                    (st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                )
    except OSError:
        return None
    return tuple(seen)


def load_library(
    root: Path,
    label: str,
    revision: str | None = None,
    *,
    limits: Limits | None = None,
    project: Path | None = None,
) -> Library:
    """Load `tiers.yaml` from a library folder and check every tier's folder stays inside it;
    the library loaded before when nothing it was loaded from changed since."""
    limits = limits or Limits()
    key = (str(root), label, revision, limits, str(project) if project else None)
    kept = _LOADED.get(key)
    if kept is not None and _signature(root, kept[1].tier_names) == kept[0]:
        return kept[1]
    started = time.time_ns()
    library = _load_library(root, label, revision, limits=limits, project=project)
    signature = _signature(root, library.tier_names)
    settled = started - int(STABLE_AFTER * 1e9)
    if signature is not None and all(entry[-1] < settled for entry in signature):
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.clear()
        _LOADED[key] = (signature, library)
    return library


def _load_library(
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
        raise InvalidInput(f"{root}: library folder does not exist; check the `library` setting")
    if project is not None:
        _check_inside_project(root, project)
        if os.path.islink(tiers_path):
            raise UnsafePath(f"{tiers_path}: may not be a symlink inside the project")
    ensure_inside(tiers_path, root, "tiers.yaml")
    parsed = load_mapping(tiers_path, "tiers.yaml", follow=project is None)
    data = validate(TIERS_SCHEMA, parsed, tiers_path)
    if len(data["tiers"]) > limits.tiers:
        raise InvalidInput(
            f"{where(tiers_path, parsed.line('tiers'))}: {len(data['tiers'])} tiers, more than "
            f"the {limits.tiers} allowed (max_tiers in the rulesync config)"
        )
    tiers = _tiers(data["tiers"], parsed, tiers_path)
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
    budget = data["budget"]
    sources = _sources(data["metrics"], tiers, parsed, tiers_path) if data["metrics"] else {}
    return Library(
        root=root,
        label=label,
        name=data["name"] or root.name,
        description=data["description"],
        tiers=tiers,
        revision=revision,
        always_tokens_budget=budget.get("always_tokens"),
        limits=limits,
        project=project,
        sources=MappingProxyType(sources),
        allow_hidden=frozenset(data[ALLOW_KEY]),
    )
