"""Loading one project: marker, library, desired rules, manifest and the files on disk."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from rulesync import manifest as manifest_mod
from rulesync.config import Config
from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import ensure_inside, is_inside, sha256_hex
from rulesync.git import GitDirs, find_git
from rulesync.library import RESERVED_PHASES, Library, RuleFile, bundled_root, load_library
from rulesync.manifest import Manifest
from rulesync.marker import Marker, load_marker
from rulesync.plan import NOT_A_FILE, SYMLINK, Plan, make_plan
from rulesync.schema import shown, where
from rulesync.suggest import did_you_mean

RULES_DIR = Path(".cursor") / "rules"


@dataclass(frozen=True)
class Inputs:
    """What loading a project read, for whoever watches it: the marker, the rules folder, the
    library's root, the tier folders of the resolved chain (root ancestor first) among all the
    library's tier folders, and the library's spec when it is served from git (its folder is a
    cache, changed by fetches)."""

    marker: Path
    rules_dir: Path
    library_root: Path
    tier_dirs: tuple[Path, ...]
    all_tier_dirs: tuple[Path, ...]
    remote: str | None = None


@dataclass(frozen=True)
class Project:
    """Everything the plan needs, read from disk once."""

    root: Path
    marker: Marker
    library: Library
    tier: str
    reasons: tuple[str, ...]
    desired: dict[str, RuleFile]
    manifest: Manifest
    disk: dict[str, str]
    git: GitDirs | None
    library_spec: str = ""

    @property
    def inputs(self) -> Inputs:
        """The files and folders this load read (what a change to would change the plan)."""
        from rulesync.remote import is_url

        return Inputs(
            marker=self.marker.path,
            rules_dir=self.rules_dir,
            library_root=self.library.root,
            tier_dirs=tuple(self.library.tier_dir(t.name) for t in self.library.chain(self.tier)),
            all_tier_dirs=tuple(self.library.tier_dir(t.name) for t in self.library.tiers),
            remote=self.library_spec if is_url(self.library_spec) else None,
        )

    @property
    def rules_dir(self) -> Path:
        return self.root / RULES_DIR

    @property
    def library_id(self) -> str:
        """The library's label and its revision, or a digest of the desired rule set."""
        if self.library.revision:
            return f"{self.library.label} {self.library.revision}"
        listing = "".join(f"{n} {r.sha256}\n" for n, r in sorted(self.desired.items()))
        return f"{self.library.label} sha256:{sha256_hex(listing.encode())[:12]}"

    def plan(self, *, force: bool = False) -> Plan:
        """The plan from this project's current state to its desired rules."""
        # A manifest can be edited by hand to claim any file: before deleting one, learn
        # whether its bytes are some version of that rule the library provides.
        leaving = {n for n in self.manifest.names - set(self.desired) if n in self.disk}
        return make_plan(
            {n: r.sha256 for n, r in self.desired.items()},
            self.manifest,
            self.disk,
            library=self.library.label,
            tier=self.tier,
            revision=self.library.revision,
            force=force,
            provided=self.library.provided_hashes(leaving),
        )


def check_rules_dir(root: Path) -> Path:
    """`.cursor/rules`, refusing `.cursor` or `rules` when it is a symlink leading elsewhere."""
    for part in (root / ".cursor", root / RULES_DIR):
        if os.path.islink(part):
            ensure_inside(part, root, "folder")
        if os.path.lexists(part) and not part.is_dir():
            raise InvalidInput(f"{part}: exists but is not a folder; move it away")
    return root / RULES_DIR


@dataclass(frozen=True)
class Fetching:
    """How to treat a library served from git: move to the newest revision (`update`), or
    serve exactly the revision a manifest recorded (`pinned`)."""

    update: bool = False
    accept_rewrite: bool = False
    pinned: str | None = None


def choose_library(marker: Marker, config: Config, fetching: Fetching | None = None) -> Library:
    """The marker's library, or the user's default; a marker may only name a folder inside
    the project, or a folder or repository the user's config trusts."""
    spec = marker.library or config.library
    limits = config.limits
    if spec == "default":
        return load_library(bundled_root(), "default", limits=limits)
    from rulesync.remote import is_url

    if is_url(spec):
        from rulesync.remote import library_folder, parse_spec

        remote = parse_spec(spec)
        if marker.library and not config.trusts_url(remote.url):
            raise UnsafePath(
                f"{marker.path}: library `{spec}` is a repository the user's config does not "
                "trust; list its URL under `libraries:` in the rulesync config"
            )
        how = fetching or Fetching()
        folder, revision = library_folder(
            remote, update=how.update, pinned=how.pinned, accept_rewrite=how.accept_rewrite
        )
        return load_library(folder, remote.label, revision, limits=limits)
    path = Path(spec)
    if marker.library:
        path = Path(os.path.expanduser(spec))
        path = path if path.is_absolute() else marker.root / path
        if not (is_inside(path, marker.root) or config.trusts(path)):
            raise UnsafePath(
                f"{marker.path}: library `{spec}` is outside the project; "
                "list it under `libraries:` in the rulesync config to trust it"
            )
    # A folder inside the project came with the repository: read under the stricter rules.
    project = marker.root if is_inside(path, marker.root) else None
    return load_library(path, spec, limits=limits, project=project)


def choose_tier(marker: Marker, library: Library) -> tuple[str, tuple[str, ...]]:
    """The tier the marker's phase names, or the one `auto` selects, with the reasons."""
    if marker.metrics or marker.phase == "auto":
        # Only metrics or `auto` need the criteria: a plain `phase:` never loads them.
        from rulesync.readiness import auto_tier, check_metrics

        check_metrics(library, marker.metrics, marker.path, marker.source)
        if marker.phase == "auto":
            tier, reasons = auto_tier(library, marker.metrics)
            return tier, tuple(reasons)
    if marker.phase not in library.tier_names:
        names = (*library.tier_names, *RESERVED_PHASES)
        raise InvalidInput(
            f"{where(marker.path, marker.line('phase'))}: unknown phase {shown(marker.phase)}"
            f"{did_you_mean(marker.phase, names)}; valid: {', '.join(names)}"
        )
    return marker.phase, ()


def desired_rules(marker: Marker, library: Library, tier: str) -> dict[str, RuleFile]:
    """The tier's resolved rules minus the marker's `exclude`."""
    known = {n.removesuffix(".mdc") for n in library.all_rule_names()}
    for index, name in enumerate(marker.exclude):
        if name not in known:
            at = where(marker.path, marker.line("exclude", index))
            raise InvalidInput(
                f"{at}: exclude names {shown(name)}, which no tier provides"
                f"{did_you_mean(name, known)}; `rulesync tiers` lists the rule names"
            )
    excluded = {f"{n}.mdc" for n in marker.exclude}
    return {n: r for n, r in library.resolve(tier).items() if n not in excluded}


def read_disk(rules_dir: Path, names: set[str]) -> dict[str, str]:
    """sha256 of each named file present in `rules_dir`; SYMLINK / NOT_A_FILE for the rest.

    Nothing is read through a symlink.
    """
    found: dict[str, str] = {}
    try:
        entries = {e.name: e for e in os.scandir(rules_dir) if e.name in names}
    except FileNotFoundError:
        return found
    for name, entry in entries.items():
        if entry.is_symlink():
            found[name] = SYMLINK
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            found[name] = NOT_A_FILE
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                found[name] = NOT_A_FILE
                continue
            with os.fdopen(fd, "rb", closefd=False) as handle:
                found[name] = sha256_hex(handle.read())
        finally:
            os.close(fd)
    return found


def load_project(
    root: Path, config: Config, fetching: Fetching | None = None, *, pin: bool = False
) -> Project:
    """Read marker, library, manifest and disk for the project at `root`.

    With `pin`, a library served from git is read at the revision the manifest recorded
    (how `rulesync check` stays reproducible in CI).
    """
    marker = load_marker(root)
    rules_dir = check_rules_dir(root)
    current = manifest_mod.load(rules_dir)
    if pin and current.revision and current.library == (marker.library or config.library):
        fetching = Fetching(pinned=current.revision)
    library = choose_library(marker, config, fetching)
    tier, reasons = choose_tier(marker, library)
    desired = desired_rules(marker, library, tier)
    disk = read_disk(rules_dir, set(desired) | current.names)
    return Project(
        root=root,
        marker=marker,
        library=library,
        tier=tier,
        reasons=reasons,
        desired=desired,
        manifest=current,
        disk=disk,
        git=find_git(root),
        library_spec=marker.library or config.library,
    )
