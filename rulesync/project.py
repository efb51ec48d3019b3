"""Loading one project: marker, library, desired rules and every enabled target's rendering
of them, the manifest and the files on disk."""

import errno
import os
import stat
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from rulesync import hidden
from rulesync import manifest as manifest_mod
from rulesync.config import Config
from rulesync.errors import InvalidInput, LibraryMismatch, RulesyncError, UnsafePath
from rulesync.fsutil import (
    Folders,
    ensure_inside,
    is_inside,
    read_open,
    read_regular,
    sha256_hex,
    temporary_name,
)
from rulesync.git import GitDirs, find_git
from rulesync.library import (
    RESERVED_PHASES,
    AutoChoice,
    Library,
    Limits,
    RuleFile,
    bundled_root,
    load_library,
)
from rulesync.manifest import Manifest
from rulesync.marker import Marker, load_marker
from rulesync.names import NAME_MAX, collision_key, has_control
from rulesync.paths import config_dir, state_dir
from rulesync.plan import (
    BROKEN_BLOCK,
    CLASH,
    NO_BLOCK,
    NOT_A_FILE,
    SYMLINK,
    Action,
    Desired,
    Kind,
    Plan,
    make_plan,
)
from rulesync.redact import redact_url
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
    (None: absent), from which the file with rulesync's block is made; `recorded`: what
    rulesync last wrote here (see `record_path`); `digests`: the sha256 of each desired file
    and block content, each worked out once (`output_digests`).
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
    # `phase: auto`'s measured figures with their sources, for the commit body.
    evidence: tuple[str, ...] = ()
    recorded: Mapping[str, str] = MappingProxyType({})
    digests: Mapping[str, str] = MappingProxyType({})

    @property
    def inputs(self) -> Inputs:
        """The files and folders this load read (what a change to would change the plan)."""
        from rulesync.spec import is_url

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
                path = target.where(source)
                if path is not None and path in self.output.files:
                    found[path] = source.stem
        return found

    def plan(self, *, force: bool = False) -> Plan:
        """The plan from this project's current state to its desired files and blocks."""
        digests = self.digests
        files = {p: digests[p] for p in self.output.files}
        blocks = {p: digests[p] for p in self.output.blocks}
        # The manifest is a claim, not a proof (it came with the repository): before bytes it
        # says are rulesync's are replaced or deleted, learn whether rulesync wrote them here
        # (the record) or the library's rules render them there; else they are saved first.
        claimed: dict[str, str] = {}
        for path in self.manifest.paths:
            have = self.disk.get(path)
            want = blocks.get(path) if path in blocks else files.get(path)
            if have is not None and have != want and self.manifest.owns(path, have):
                claimed[path] = have
        unproven = {p: have for p, have in claimed.items() if self.recorded.get(p) != have}
        provided = provided_hashes(self.library, self.targets, unproven)
        for path, have in claimed.items():
            if path not in unproven:
                provided[path] = frozenset({have})
        plan = make_plan(
            Desired(files=files, blocks=blocks, rules=self.rule_of),
            self.manifest,
            self.disk,
            library=self.library.label,
            tier=self.tier,
            targets=self.targets,
            revision=self.library.revision,
            force=force,
            provided=provided,
        )
        return plan._replace(actions=tuple(self._name_clash(a) for a in plan.actions))

    def _name_clash(self, action: Action) -> Action:
        """A user's file where the library has a rule names the library's file too."""
        rule = self.rules.get(f"{action.rule}.mdc")
        if action.kind is not Kind.CONFLICT or action.reason != CLASH or rule is None:
            return action
        return action._replace(reason=f"{CLASH}, `{action.rule}` ({rule.path})")

    def written(self, action: Action) -> bytes | None:
        """The whole file's bytes once `action` is carried out (None: the file goes).

        A block is spliced into the file's current bytes, every byte outside it kept."""
        if not action.block:
            return self.output.files.get(action.path) if action.kind is not Kind.DELETE else None
        base = self.bases.get(action.path)
        content = self.output.blocks.get(action.path) if action.kind is not Kind.DELETE else None
        return splice(base, content, action.path)


def provided_hashes(
    library: Library, targets: Iterable[str], claimed: Mapping[str, str]
) -> dict[str, frozenset[str]]:
    """For each path of `claimed` (path → the sha256 on disk the manifest claims), the hashes
    found rendered there (a file, or a block's content) from the library's tiers, beside the
    enabled `targets`. Tiers are read one at a time, and only until each claim is found or
    the sync's byte budget is spent: a claim not found is not proven, so costs a backup."""
    found: dict[str, set[str]] = {p: set() for p in claimed}
    if not found:
        return {}
    owners = {t.name for t in (owner(p) for p in claimed) if t is not None}
    names = tuple(dict.fromkeys((*targets, *sorted(owners))))
    spent = 0
    for tier in library.tiers:
        if all(claimed[p] in hashes for p, hashes in found.items()):
            break
        try:
            rules = library.resolve(tier.name)
        except InvalidInput:
            continue  # a tier that cannot be read now never provided what is on disk
        sources = [SourceRule(p, r.data) for p, r in rules.items()]
        spent += sum(len(r.data) for r in rules.values())
        try:
            rendered = render_all(names, sources)
        except InvalidInput:
            continue  # two rules of that tier collide for a target: it never wrote them
        for output in rendered.values():
            spent += _written(output)
            for kind in (output.files, output.blocks):
                for path in found.keys() & kind.keys():
                    found[path].add(sha256_hex(kind[path]))
        if spent > library.limits.sync_bytes:
            break
    return {p: frozenset(h) for p, h in found.items()}


def output_digests(output: Rendered, rules: Mapping[str, RuleFile]) -> dict[str, str]:
    """The sha256 of each desired file and block content, each hashed once: a file that is a
    rule's very bytes (each of the cursor target's) has the digest the library read it with."""
    # While `rules` holds each rule's bytes, no other live object shares their id.
    known = {id(rule.data): rule.sha256 for rule in rules.values()}
    return {
        path: known.get(id(data)) or sha256_hex(data)
        for path, data in (*output.files.items(), *output.blocks.items())
    }


def refuse_hidden_output(library: Library, rules: dict[str, RuleFile], output: Rendered) -> None:
    """Refuse a file or block rulesync would write that holds an invisible character no rule
    tiers.yaml allows brought into it (`rulesync.hidden`)."""
    allowed = frozenset(
        c
        for name, rule in rules.items()
        if name.removesuffix(".mdc") in library.allow_hidden
        for c in hidden.chars(hidden.decode(rule.data))
    )
    for path, data in (*output.files.items(), *output.blocks.items()):
        problem = hidden.refusal(path, data, allowed=allowed)
        if problem is not None:
            raise InvalidInput(problem)


def check_folders(root: Path, paths: Iterable[str]) -> None:
    """Refuse a folder on the way to any of `paths` that is a symlink leading out of the
    project (`.cursor`, `.claude`, `.github`, …), or that exists but is not a folder."""
    checked: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if folder in checked:
                continue
            checked.add(folder)
            full = root / folder
            if os.path.islink(full):
                ensure_inside(full, root, "folder")
            if os.path.lexists(full) and not full.is_dir():
                raise InvalidInput(f"{full}: exists but is not a folder; move it away")


def record_path(root: Path) -> Path:
    """Where rulesync records what it wrote in the project at `root`: in the user's state
    folder, which no repository can forge (path → sha256 of each file or block content)."""
    tag = sha256_hex(os.fsencode(os.path.realpath(root)))[:16]
    return state_dir() / "written" / f"{tag}.json"


def read_record(root: Path) -> dict[str, str]:
    """What rulesync last wrote (or found the library's) in the project at `root`; empty
    when there is no readable record (a missing record only costs backups)."""
    import json

    try:
        data = read_regular(record_path(root), limit=manifest_mod.MAX_MANIFEST_BYTES, follow=False)
        doc = json.loads(data)
    except (OSError, ValueError, RulesyncError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, str)}


def target_folders(names: Iterable[str]) -> tuple[str, ...]:
    """The folders the named targets write into, project-relative, below the root (which is
    watched for the marker anyway)."""
    return tuple(dict.fromkeys(f for name in names for f in get(name).folders if f))


class Fetching(NamedTuple):
    """How to treat a library served from git. By default the revision the project's manifest
    recorded is served exactly (a lock file's pin); `update` moves to the newest revision the
    ref allows, fetching it (`fetched`: as the service's fetcher last left the mirror)."""

    update: bool = False
    accept_rewrite: bool = False
    fetched: bool = False


class Followed(NamedTuple):
    """The library a project follows, and which file says so: `marker` (its `library:`),
    `manifest` (the library its committed manifest recorded) or `config` (a project never
    synced takes the user's default)."""

    spec: str
    source: str


def followed_library(marker: Marker, recorded: Manifest, config: Config) -> Followed:
    """The library the project follows: its marker's `library:`, else the one its committed
    manifest recorded, else the user's default. A user's default other than the recorded one
    never changes what the project follows: it is refused (exit 2) naming both."""
    if marker.library:
        return Followed(marker.library, "marker")
    if recorded.library == redact_url(config.library):
        return Followed(config.library, "config")  # the user's own choice, recorded
    if recorded.library:
        if config.library != "default":
            raise LibraryMismatch(
                f"{marker.root / manifest_mod.MANIFEST}: this project follows the library "
                f"`{recorded.library}`, and your config's library `{config.library}` would "
                "change that; nothing was changed. Move the project with `rulesync library set "
                f"{config.library}` (one commit), or remove `library:` from "
                f"{config_dir() / 'config.yaml'} to follow the project's"
            )
        return Followed(recorded.library, "manifest")
    return Followed(config.library, "config")


def _trusted_url(url: str, root: Path, config: Config) -> bool:
    """A repository named by the project's committed files may be used when the user's config
    lists it, or when it is served beside the project's own origin (`remote.served_beside`)."""
    if config.trusts_url(url):
        return True
    from rulesync.git import find_git, remote_url
    from rulesync.remote import served_beside

    git = find_git(root)
    return git is not None and served_beside(url, remote_url(git.top))


def library_spec(marker: Marker, config: Config, recorded: Manifest) -> Followed:
    """The library the project follows (`followed_library`) as it is fetched: a repository
    the user's config lists under the same URL without credentials is fetched by the config's
    URL (with the credentials the committed files never hold). A spec holding a control
    character or a line separator is refused: it goes into the manifest and each commit."""
    spec, source = followed_library(marker, recorded, config)
    if has_control(spec):
        where_from = marker.path if source == "marker" else "the rulesync config"
        if source == "manifest":
            where_from = marker.root / manifest_mod.MANIFEST
        raise InvalidInput(
            f"{where_from}: library {shown(spec)} holds a control character or a line "
            "separator; name the library plainly"
        )
    from rulesync.spec import is_url, parse_spec

    if source == "config" or not is_url(spec):
        return Followed(spec, source)
    remote = parse_spec(spec)
    listed = config.trusted_url(remote.url)
    if listed is None:
        return Followed(spec, source)
    return Followed(f"{listed}#{remote.ref}" if remote.ref else listed, source)


def choose_library(
    marker: Marker,
    config: Config,
    fetching: Fetching | None = None,
    recorded: Manifest | None = None,
) -> Library:
    """The library the project follows (`followed_library`), at the revision its manifest
    (`recorded`, read from the project when not given) pinned. A project's own files may only
    name a folder inside the project, a repository beside its origin, or a folder or
    repository the user's config trusts."""
    if recorded is None:
        recorded = manifest_mod.load(marker.root)
    spec, source = library_spec(marker, config, recorded)
    named_where = marker.path if source == "marker" else marker.root / manifest_mod.MANIFEST
    limits = config.limits
    if spec == "default":
        return load_library(bundled_root(), "default", limits=limits)
    from rulesync.spec import is_url, parse_spec

    if is_url(spec):
        from rulesync.remote import library_folder

        remote = parse_spec(spec)
        if source != "config" and not _trusted_url(remote.url, marker.root, config):
            raise UnsafePath(
                f"{named_where}: library `{redact_url(spec)}` is a repository the user's config "
                "does not trust, and not on the host this project's origin is fetched from; list "
                "its URL under `libraries:` in the rulesync config to trust it"
            )
        how = fetching or Fetching()
        pinned = recorded.revision if recorded.library == redact_url(spec) else None
        folder, revision = library_folder(
            remote,
            update=how.update,
            pinned=pinned,
            accept_rewrite=how.accept_rewrite,
            fetched=how.fetched,
            source=config.mirror_of(remote.url),
            timeout=config.fetch_timeout,
            limits=limits,
        )
        return load_library(folder, remote.label, revision, limits=limits)
    path = Path(spec)
    if source != "config":
        path = Path(os.path.expanduser(spec))
        path = path if path.is_absolute() else marker.root / path
        if not (is_inside(path, marker.root) or config.trusts(path)):
            raise UnsafePath(
                f"{named_where}: library `{spec}` is outside the project; "
                "list it under `libraries:` in the rulesync config to trust it"
            )
    # A folder inside the project came with the repository: read under the stricter rules.
    project = marker.root if is_inside(path, marker.root) else None
    return load_library(path, spec, limits=limits, project=project)


def choose_tier(marker: Marker, library: Library) -> tuple[str, tuple[str, ...]]:
    """The tier the marker's phase names, or the one `auto` selects, with the reasons."""
    choice = choose(marker, library)
    return choice.tier, choice.reasons


def choose(
    marker: Marker, library: Library, config: Config | None = None, current: str | None = None
) -> AutoChoice:
    """The tier the marker's phase names, or the one `auto` selects from the evidence (never
    below `current`, the tier last applied), with the reasons and the measured figures."""
    if marker.metrics or marker.phase == "auto":
        # Only metrics or `auto` need the criteria: a plain `phase:` never loads them.
        from rulesync.readiness import check_metrics

        check_metrics(library, marker.metrics, marker.path, marker.source)
        if marker.phase == "auto":
            from rulesync.evidence import max_settle_days, measure
            from rulesync.readiness import choose_auto

            evidence = measure(
                marker.root, library, marker, config or Config(), days=max_settle_days(library)
            )
            return choose_auto(library, evidence, current)
    if marker.phase not in library.tier_names:
        names = (*library.tier_names, *RESERVED_PHASES)
        raise InvalidInput(
            f"{where(marker.path, marker.line('phase'))}: unknown phase {shown(marker.phase)}"
            f"{did_you_mean(marker.phase, names)}; valid: {', '.join(names)}"
        )
    return AutoChoice(marker.phase)


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


def _state(data: bytes, block: bool, where: str) -> tuple[str, bytes | None]:
    """The plan's view of a file's bytes: their sha256, or for a block path its block's
    content sha256 (NO_BLOCK, BROKEN_BLOCK), with the bytes for a block path."""
    if not block:
        return sha256_hex(data), None
    try:
        content = extract(data, where)
    except InvalidInput:
        return BROKEN_BLOCK, data
    return (NO_BLOCK if content is None else sha256_hex(content)), data


class Budget:
    """One sync's budget, in total (SPEC's bounded resources): bytes read from the library
    and the project plus bytes written across every target, and files under the project.
    Each is charged before the work it pays for; going over is a refusal naming the cap and
    its config key."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = root
        self.limits = limits
        self.bytes = 0

    def charge(self, amount: int, what: str) -> None:
        """Spend `amount` bytes on `what` (say "read the tier"); InvalidInput past the cap."""
        self.bytes += amount
        if self.bytes > self.limits.sync_bytes:
            raise InvalidInput(
                f"{self.root}: one sync would {what}, going past the {self.limits.sync_bytes} "
                "bytes read and written in all (max_sync_bytes in the rulesync config); "
                "raise it, or write fewer targets or rules"
            )

    def files(self, count: int) -> None:
        """Refuse a sync touching more than the cap's files under the project."""
        if count > self.limits.sync_files:
            raise InvalidInput(
                f"{self.root}: one sync would read or write {count} files, more than the "
                f"{self.limits.sync_files} allowed (max_sync_files in the rulesync config); "
                "raise it, or write fewer targets or rules"
            )


def read_disk(
    root: Path, paths: Iterable[str], blocks: Collection[str] = (), budget: Budget | None = None
) -> tuple[dict[str, str], dict[str, bytes | None]]:
    """The state of each of `paths` present under `root` (see `plan.make_plan`; absent paths
    are missing) and, for the `blocks` paths, the file's bytes. Every folder on the way is
    reached by the one walk (fsutil.Folders): a symlink there is refused, naming it; a file
    that is a symlink is SYMLINK, never read. Each file is read only up to the cap (at most
    `max_file_bytes`, charged to the sync's `budget`)."""
    budget = budget or Budget(root, Limits())
    cap = budget.limits.file_bytes
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
                    info = os.fstat(file)
                    if not stat.S_ISREG(info.st_mode):
                        found[path] = NOT_A_FILE
                        continue
                    where = os.path.join(root, path)  # names it in a refusal; no Path per file
                    budget.charge(min(info.st_size, cap + 1), f"read {where}")
                    data = read_open(file, where, limit=cap, key="max_file_bytes")
                finally:
                    os.close(file)
                found[path], base = _state(data, path in blocks, path)
                if path in blocks:
                    bases[path] = base
    return found, bases


_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC


# What a target may add to a rule's text: front matter, a listing line, a path.
_PER_RULE = 1024


def _written(output: Rendered) -> int:
    return sum(map(len, output.files.values())) + sum(map(len, output.blocks.values()))


def _refuse_large(root: Path, output: Rendered, cap: int) -> None:
    """Refuse to write a file rulesync would refuse to read back (`max_file_bytes`)."""
    for path, data in (*output.files.items(), *output.blocks.items()):
        if len(data) > cap:
            raise InvalidInput(
                f"{root / path}: would be {len(data)} bytes, more than the {cap} allowed for "
                "one file (max_file_bytes in the rulesync config); raise it or shorten the rules"
            )


def _refuse_names(root: Path, output: Rendered) -> None:
    """Refuse, before any write, target paths that a sync could only half write: a name too
    long for the file system once the temporary name beside it is added (a nested rule's
    flattened name), or two paths that are one file where case or Unicode normalisation is
    ignored (`Foo.mdc` and `foo.mdc`; NFC and NFD forms)."""
    longest = NAME_MAX - len(temporary_name("").encode())
    seen: dict[str, str] = {}
    for path in (*output.files, *output.blocks):
        name = path.rpartition("/")[2]
        if len(name.encode("utf-8", "surrogatepass")) > longest:
            raise InvalidInput(
                f"{root / path}: the name is longer than the {longest} bytes a target's file "
                "may have; shorten the rule's name or its folders in the library"
            )
        other = seen.setdefault(collision_key(path), path)
        if other != path:
            raise InvalidInput(
                f"{root / path}: `{path}` and `{other}` differ only by case or Unicode "
                "normalisation: they are one file on macOS and Windows; rename one in the library"
            )


def load_project(root: Path, config: Config, fetching: Fetching | None = None) -> Project:
    """Read marker, library, manifest and disk for the project at `root`.

    A library served from git is read at the revision the manifest recorded (unless
    `fetching.update`): `apply`, `check`, `diff`, `status` and the service plan from the same
    inputs on every machine.
    """
    marker = load_marker(root)
    current = manifest_mod.load(root)
    library = choose_library(marker, config, fetching, current)
    choice = choose(marker, library, config, current.tier or None)
    tier = choice.tier
    rules = desired_rules(marker, library, tier)
    targets = enabled_targets(marker, config)
    budget = Budget(root, config.limits)
    read = sum(len(r.data) for r in rules.values())
    budget.charge(read, f"read {read} bytes of tier `{tier}`")
    # Before rendering: what the targets could write at most (each a rule's text and a line
    # or two about it), so six targets cannot together exhaust the machine.
    estimate = len(targets) * (read + _PER_RULE * len(rules))
    budget.charge(estimate, f"write up to {estimate} bytes for {len(targets)} target(s)")
    sources = tuple(SourceRule(p, r.data) for p, r in rules.items())
    if targets == ("cursor",):
        output = combine(render_all(targets, sources))
    else:
        # The targets are planned together from what each assistant will load, the
        # project's own instruction files included; a rule an assistant would still load
        # twice, or reach from no file, is said once per assistant.
        from rulesync import reading

        own = reading.own_files(reading.read_project(root, skip=current.files), current.files)
        output = combine(reading.plan_together(targets, sources, own))
        extra = reading.tier_warnings(
            own,
            [get(n) for n in targets],
            sources,
            output.files,
            output.blocks,
            library.always_tokens_budget,
        )
        output = output._replace(warnings=(*output.warnings, *extra))
    refuse_hidden_output(library, rules, output)
    budget.bytes -= estimate
    budget.charge(_written(output), f"write {_written(output)} bytes for its targets")
    _refuse_large(root, output, config.limits.file_bytes)
    _refuse_names(root, output)
    paths = set(output.files) | set(output.blocks) | current.paths
    budget.files(len(paths))
    disk, bases = read_disk(root, paths, set(output.blocks) | set(current.blocks), budget)
    return Project(
        root=root,
        marker=marker,
        library=library,
        tier=tier,
        reasons=choice.reasons,
        evidence=choice.evidence,
        targets=targets,
        rules=rules,
        sources=sources,
        output=output,
        manifest=current,
        disk=disk,
        bases=bases,
        git=find_git(root),
        library_spec=library_spec(marker, config, current).spec,
        recorded=read_record(root),
        digests=output_digests(output, rules),
    )
