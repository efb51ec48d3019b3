"""Loading one project: marker, library, desired rules and every enabled target's rendering
of them, the manifest and the files on disk."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import NamedTuple

from rulesync import manifest as manifest_mod
from rulesync.config import Config
from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import Folders, is_inside, sha256_hex
from rulesync.git import GitDirs, find_git
from rulesync.library import RESERVED_PHASES, Library, RuleFile, bundled_root, load_library
from rulesync.manifest import Manifest
from rulesync.marker import Marker, load_marker
from rulesync.plan import (
    BROKEN_BLOCK,
    NO_BLOCK,
    NOT_A_FILE,
    SYMLINK,
    Action,
    Desired,
    Kind,
    Plan,
    make_plan,
)
from rulesync.schema import shown, where
from rulesync.suggest import did_you_mean
from rulesync.targets import Rendered, SourceRule, combine, get, owner, render_all
from rulesync.targets.blocks import extract, splice

# The subfolders of targets' folders (a tier's nested rules) whose changes are watched.
NESTED_RULE_FOLDERS = 8


class Inputs(NamedTuple):
    """What loading a project read, for whoever watches it: the marker, the enabled targets'
    folders and the subfolders their files go into (project-relative; watched once they
    exist), the library's root, the tier folders of the resolved chain (root ancestor first)
    among all the library's tier folders, and the library's spec when it is served from git
    (its folder is a cache, changed by fetches)."""

    marker: Path
    target_folders: tuple[str, ...]
    library_root: Path
    tier_dirs: tuple[Path, ...]
    all_tier_dirs: tuple[Path, ...]
    remote: str | None = None


class Project(NamedTuple):
    """Everything the plan needs, read from disk once.

    `rules`: the desired rules (the tier minus `exclude`), by path inside the tier, and as
    `sources` for the targets;
    `output`: every enabled target's rendering of them; `disk`: the state of each managed or
    desired path (see `plan.make_plan`); `bases`: the current bytes of each block's file
    (None: absent), from which the file with rulesync's block is made.
    """

    root: Path
    marker: Marker
    library: Library
    tier: str
    reasons: tuple[str, ...]
    targets: tuple[str, ...]
    rules: dict[str, RuleFile]
    sources: tuple[SourceRule, ...]
    output: Rendered
    manifest: Manifest
    disk: dict[str, str]
    bases: dict[str, bytes | None]
    git: GitDirs | None
    library_spec: str = ""

    @property
    def inputs(self) -> Inputs:
        """The files and folders this load read (what a change to would change the plan)."""
        from rulesync.remote import is_url

        folders = target_folders(self.targets)
        # A tier's subfolders (`frontend/react.mdc`) become folders inside a target's own:
        # watched too, so a rule deleted there comes back at once.
        nested: set[str] = set()
        for path in self.output.files:
            parent = path.rpartition("/")[0]
            while any(parent.startswith(f"{folder}/") for folder in folders):
                nested.add(parent)
                parent = parent.rpartition("/")[0]
        # At most NESTED_RULE_FOLDERS of them, so a project's watches stay bounded; a deletion
        # in any other is healed by the service's periodic reconcile.
        watched = sorted(nested - set(folders))[:NESTED_RULE_FOLDERS]
        return Inputs(
            marker=self.marker.path,
            target_folders=(*folders, *watched),
            library_root=self.library.root,
            tier_dirs=tuple(self.library.tier_dir(t.name) for t in self.library.chain(self.tier)),
            all_tier_dirs=tuple(self.library.tier_dir(t.name) for t in self.library.tiers),
            remote=self.library_spec if is_url(self.library_spec) else None,
        )

    @property
    def library_id(self) -> str:
        """The library's label and its revision, or a digest of the desired rule set."""
        if self.library.revision:
            return f"{self.library.label} {self.library.revision}"
        listing = "".join(f"{n} {r.sha256}\n" for n, r in sorted(self.rules.items()))
        return f"{self.library.label} sha256:{sha256_hex(listing.encode())[:12]}"

    @property
    def rule_of(self) -> dict[str, str]:
        """Each desired file's rule (its path in the tier without `.mdc`)."""
        found: dict[str, str] = {}
        for name in self.targets:
            target = get(name)
            for source in self.sources:
                path = target.locate(source)
                if path is not None and path in self.output.files:
                    found[path] = source.stem
        return found

    def plan(self, *, force: bool = False) -> Plan:
        """The plan from this project's current state to its desired files and blocks."""
        # A manifest can be edited by hand to claim any file: before deleting one, learn
        # whether its bytes are something the library's rules render to there.
        leaving = {
            p
            for p in set(self.manifest.files) | set(self.manifest.pending)
            if p in self.disk and p not in self.output.files and p not in self.manifest.blocks
        }
        return make_plan(
            Desired(
                files={p: sha256_hex(d) for p, d in self.output.files.items()},
                blocks={p: sha256_hex(d) for p, d in self.output.blocks.items()},
                rules=self.rule_of,
            ),
            self.manifest,
            self.disk,
            library=self.library.label,
            tier=self.tier,
            targets=self.targets,
            revision=self.library.revision,
            force=force,
            provided=provided_hashes(self.library, leaving),
        )

    def written(self, action: Action) -> bytes | None:
        """The whole file's bytes once `action` is carried out (None: the file goes).

        A block is spliced into the file's current bytes, every byte outside it kept."""
        if not action.block:
            return self.output.files.get(action.path) if action.kind is not Kind.DELETE else None
        base = self.bases.get(action.path)
        content = self.output.blocks.get(action.path) if action.kind is not Kind.DELETE else None
        return splice(base, content, action.path)


def provided_hashes(library: Library, paths: Collection[str]) -> dict[str, frozenset[str]]:
    """For each of `paths`, the sha256 of everything its target renders there from some tier
    of the library (each tier rendered only for the targets owning one of the paths)."""
    if not paths:
        return {}
    found: dict[str, set[str]] = {p: set() for p in paths}
    targets = {t.name: t for t in (owner(p) for p in paths) if t is not None}
    for rules in library.resolve_all().values():
        sources = [SourceRule(p, r.data) for p, r in rules.items()]
        for target in targets.values():
            try:
                files = target.render(sources).files
            except InvalidInput:
                continue  # two rules of that tier collide for this target: it never wrote them
            for path in found.keys() & files.keys():
                found[path].add(sha256_hex(files[path]))
    return {p: frozenset(h) for p, h in found.items()}


def target_folders(names: Iterable[str]) -> tuple[str, ...]:
    """The folders the named targets write into, project-relative, below the root (which is
    watched for the marker anyway)."""
    return tuple(dict.fromkeys(f for name in names for f in get(name).folders if f))


class Fetching(NamedTuple):
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


def enabled_targets(marker: Marker, config: Config) -> tuple[str, ...]:
    """The targets a project writes: its marker's `targets:`, else the user's default."""
    return marker.targets or config.targets


def desired_rules(marker: Marker, library: Library, tier: str) -> dict[str, RuleFile]:
    """The tier's resolved rules minus the marker's `exclude` (a rule's path without `.mdc`)."""
    # Every tier's folder is listed only when there is an `exclude` to check.
    known = {n.removesuffix(".mdc") for n in library.all_rule_names()} if marker.exclude else set()
    for index, name in enumerate(marker.exclude):
        if name not in known:
            at = where(marker.path, marker.line("exclude", index))
            raise InvalidInput(
                f"{at}: exclude names {shown(name)}, which no tier provides"
                f"{did_you_mean(name, known)}; `rulesync tiers` lists the rule names"
            )
    excluded = {f"{n}.mdc" for n in marker.exclude}
    return {n: r for n, r in library.resolve(tier).items() if n not in excluded}


def _state(fd: int, block: bool, where: str) -> tuple[str, bytes | None]:
    """The plan's view of an open file: its sha256, or for a block path its block's content
    sha256 (NO_BLOCK, BROKEN_BLOCK), with the file's bytes for a block path."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return NOT_A_FILE, None
    with os.fdopen(fd, "rb", closefd=False) as handle:
        data = handle.read()
    if not block:
        return sha256_hex(data), None
    try:
        content = extract(data, where)
    except InvalidInput:
        return BROKEN_BLOCK, data
    return (NO_BLOCK if content is None else sha256_hex(content)), data


def read_disk(
    root: Path, paths: Iterable[str], blocks: Collection[str] = ()
) -> tuple[dict[str, str], dict[str, bytes | None]]:
    """The state of each of `paths` present under `root` (see `plan.make_plan`; absent paths
    are missing) and, for the `blocks` paths, the file's bytes. Every folder on the way is
    reached by the one walk (fsutil.Folders): a symlink there is refused, naming it; a file
    that is a symlink is SYMLINK, never read."""
    found: dict[str, str] = {}
    bases: dict[str, bytes | None] = {}
    by_folder: dict[str, set[str]] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        by_folder.setdefault(folder, set()).add(name)
    with Folders(root) as folders:
        for folder, names in sorted(by_folder.items()):
            fd = folders.open(folder)
            if fd is None:
                continue
            for name in sorted(names & set(os.listdir(fd))):
                path = f"{folder}/{name}" if folder else name
                try:
                    file = os.open(name, _READ | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    found[path] = SYMLINK if exc.errno == errno.ELOOP else NOT_A_FILE
                    continue
                try:
                    found[path], data = _state(file, path in blocks, path)
                finally:
                    os.close(file)
                if path in blocks and found[path] != NOT_A_FILE:
                    bases[path] = data
    return found, bases


_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC


def load_project(
    root: Path, config: Config, fetching: Fetching | None = None, *, pin: bool = False
) -> Project:
    """Read marker, library, manifest and disk for the project at `root`.

    With `pin`, a library served from git is read at the revision the manifest recorded
    (how `rulesync check` stays reproducible in CI).
    """
    marker = load_marker(root)
    current = manifest_mod.load(root)
    if pin and current.revision and current.library == (marker.library or config.library):
        fetching = Fetching(pinned=current.revision)
    library = choose_library(marker, config, fetching)
    tier, reasons = choose_tier(marker, library)
    rules = desired_rules(marker, library, tier)
    targets = enabled_targets(marker, config)
    sources = tuple(SourceRule(p, r.data) for p, r in rules.items())
    output = combine(render_all(targets, sources))
    paths = set(output.files) | set(output.blocks) | current.paths
    disk, bases = read_disk(root, paths, set(output.blocks) | set(current.blocks))
    return Project(
        root=root,
        marker=marker,
        library=library,
        tier=tier,
        reasons=reasons,
        targets=targets,
        rules=rules,
        sources=sources,
        output=output,
        manifest=current,
        disk=disk,
        bases=bases,
        git=find_git(root),
        library_spec=marker.library or config.library,
    )
