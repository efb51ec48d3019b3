"""One sync of one project: load → plan → apply → commit. Shared by the CLI and the service."""

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from rulesync import manifest as manifest_mod
from rulesync import private
from rulesync.apply import execute
from rulesync.config import Config
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK, InvalidInput, RulesyncError
from rulesync.fsutil import atomic_write, read_regular, sha256_hex
from rulesync.git import (
    GitDirs,
    TopPaths,
    ensure_not_busy,
    head_entries,
    head_id,
    show_head_file,
)
from rulesync.gitcommit import Snapshot, commit_paths, finish_interrupted_commit, snapshot
from rulesync.gitlog import NO_CHANGE, Change
from rulesync.lock import exclusive
from rulesync.marker import MARKER
from rulesync.paths import state_dir
from rulesync.plan import Kind, Plan
from rulesync.project import Fetching, Inputs, Project, load_project, record_path
from rulesync.targets.blocks import splice

UNCOMMITTED_FLAG = "rulesync-uncommitted"


class SyncResult:
    """What a sync found and did: filled in (applied, commit, backups, seconds) as it goes."""

    __slots__ = (
        "applied",
        "backups",
        "change",
        "commit",
        "commit_note",
        "inputs",
        "phase",
        "plan",
        "reasons",
        "root",
        "seconds",
        "targets",
        "tier",
        "warnings",
    )

    def __init__(
        self,
        root: Path,
        phase: str,
        tier: str,
        plan: Plan,
        reasons: tuple[str, ...] = (),
        *,
        targets: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
        commit_note: str = "",
        inputs: Inputs | None = None,
    ) -> None:
        self.root = root
        self.phase = phase
        self.tier = tier
        self.plan = plan
        self.reasons = reasons
        self.targets = targets
        self.warnings = warnings
        self.applied = False
        self.commit: str | None = None
        # What the sync did, counted once: the console's summary and the commit's subject.
        self.change: Change = NO_CHANGE
        self.commit_note = commit_note
        self.backups: list[Path] = []
        self.seconds = 0.0
        self.inputs = inputs  # what the load read: what a watcher of this project watches

    @property
    def conflicts(self) -> int:
        return len(self.plan.conflicts)

    @property
    def exit_code(self) -> int:
        return EXIT_NOT_IN_SYNC if self.plan.conflicts else EXIT_OK


def lock_path(root: Path, git: GitDirs | None) -> Path:
    """The project's lock file: in the git dir, or at the project root outside git."""
    if git is not None:
        return git.git_dir / "rulesync.lock"
    return root / NO_GIT_LOCK


NO_GIT_LOCK = ".rulesync.lock"


def backup_dir(root: Path) -> Path:
    """Where `--force` saves the user's versions: the state dir, per project and run."""
    tag = sha256_hex(os.fsencode(os.path.realpath(root)))[:8]
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return state_dir() / "backups" / f"{root.name}-{tag}" / stamp


def _commit_note(project: Project, no_commit: bool) -> str:
    if no_commit:
        return "not committed (--no-commit)"
    if not project.marker.commit:
        return "not committed (commit: false in the marker)"
    if project.git is None:
        return "not committed (not a git repository)"
    return ""


class _Commit(NamedTuple):
    """What rulesync's commit for a plan holds: planned bytes per path (None: delete), the
    change it records and its message."""

    top: Path
    files: dict[str, bytes | None]
    change: Change
    message: str

    def commit(self, pending: Snapshot | None, config: Config) -> str | None:
        author = config.commit_author
        if pending is not None:
            return pending.commit(self.message, author=author)
        # Hooks need a real `git commit`, which takes the files from the work tree.
        return commit_paths(
            self.top, sorted(self.files), self.message, author=author, run_hooks=True
        )


def _manifest_at_head(project: Project) -> manifest_mod.Manifest | None:
    """The manifest committed at HEAD, at either location (None when there is none, or it is
    not readable)."""
    git = project.git
    assert git is not None
    rel = TopPaths(project.root, git.top)
    for relpath in (manifest_mod.MANIFEST, manifest_mod.LEGACY_MANIFEST):
        data = show_head_file(git.top, rel(relpath))
        if data:
            try:
                return manifest_mod.parse(data, Path(rel(relpath)))
            except InvalidInput:
                return None
    return None


# Beside the flag in the git dir: "HEAD-ID MANIFEST-SHA256" of the last HEAD whose committed
# manifest was found to be the one on disk. A commit never changes, so while HEAD and the
# manifest are both as recorded, a no-op run knows it owes no commit without starting git.
AT_HEAD_RECORD = "rulesync-at-head"


def _at_head_key(git: GitDirs, current: manifest_mod.Manifest) -> str | None:
    head = head_id(git)
    if head is None or current.legacy:
        return None
    return f"{head} {sha256_hex(manifest_mod.dumps(current))}\n"


def _at_head(git: GitDirs, current: manifest_mod.Manifest) -> bool:
    """True when `current` is known, from the record, to be the manifest committed at HEAD."""
    key = _at_head_key(git, current)
    if key is None:
        return False
    try:  # never through a symlink, nor a FIFO left there
        return read_regular(git.git_dir / AT_HEAD_RECORD, limit=256, follow=False) == key.encode()
    except (OSError, RulesyncError):
        return False


def _nothing_owed(git: GitDirs, flag: Path, current: manifest_mod.Manifest) -> bool:
    """True when it is known without git that no commit is owed: no run stopped before its
    commit (the flag), and the record shows `current` is the manifest committed at HEAD."""
    return not flag.exists() and _at_head(git, current)


def _record_at_head(git: GitDirs, current: manifest_mod.Manifest) -> None:
    """Record that `current` is the manifest committed at HEAD (a cache: losing it only costs
    the next run one git process)."""
    key = _at_head_key(git, current)
    if key is not None:
        with contextlib.suppress(OSError):
            atomic_write(git.git_dir / AT_HEAD_RECORD, key.encode("ascii"), sync=False)


def _owes_commit(plan: Plan, flag: Path, old: manifest_mod.Manifest | None) -> bool:
    """True when rulesync's own earlier changes are not committed yet: a run stopped before
    its commit (the flag), or one made with `--no-commit` or before `git init` (the work
    tree's manifest is not the one at HEAD)."""
    if flag.exists():
        return True
    return plan.current != manifest_mod.EMPTY and plan.current != old


def _block_paths(project: Project, old: manifest_mod.Manifest | None) -> set[str]:
    paths = set(project.output.blocks) | set(project.manifest.blocks)
    return paths | (set(old.blocks) if old else set())


def _work_tree_change(project: Project, plan: Plan, writes: dict[str, bytes | None]) -> Change:
    """What a sync that makes no commit did to the work tree (the manifest on disk before it
    to the one after)."""
    from rulesync.gitlog import describe

    blocks = _block_paths(project, None)
    return describe(
        plan.current,
        plan,
        had_file={p for p in blocks if project.bases.get(p) is not None},
        keeps_file={p for p in blocks if p not in writes or writes[p] is not None},
    )


def _library_folder(project: Project) -> str:
    return project.library.root.relative_to(project.root).as_posix()


def _library_files(project: Project) -> dict[str, bytes]:
    """A library inside the project: the files the rules come from (tiers.yaml and each rule
    of the tier), project-relative, as read for this plan. They go into rulesync's commit, so
    a clone of it has the library its manifest was made from."""
    library = project.library
    if library.project is None:
        return {}
    from rulesync.library import TIERS_FILE

    folder = _library_folder(project)
    tiers = read_regular(library.root / TIERS_FILE, limit=1024 * 1024, follow=False)
    found = {f"{folder}/{TIERS_FILE}": tiers}
    for rule in library.resolve(project.tier).values():
        found[rule.path.relative_to(project.root).as_posix()] = rule.data
    for tier in library.chain(project.tier):
        readme = library.tier_dir(tier.name) / "README.md"
        with contextlib.suppress(OSError, RulesyncError):  # a README is optional
            data = read_regular(readme, limit=1024 * 1024, follow=False)
            found[readme.relative_to(project.root).as_posix()] = data
    return found


def _library_gone(project: Project, found: Mapping[str, bytes]) -> dict[str, None]:
    """A library inside the project: the files HEAD has in the tier's folders that are gone
    from disk (a rule deleted from the library), top-relative. Their deletion goes into the
    commit with the rules' own, so a clone's library still matches its manifest."""
    git = project.git
    assert git is not None and project.library.project is not None
    rel = TopPaths(project.root, git.top)
    library = project.library
    folders = [
        rel(library.tier_dir(t.name).relative_to(project.root).as_posix())
        for t in library.chain(project.tier)
    ]
    kept = {rel(path) for path in found}
    at_head = head_entries(git.top, folders, recursive=True)
    return {
        path: None for path in at_head if path not in kept and not os.path.lexists(git.top / path)
    }


def _already_at_head(
    project: Project,
    files: Mapping[str, bytes | None],
    added: Iterable[str],
    writes: Mapping[str, bytes | None],
) -> set[str]:
    """Of the paths the manifest newly claims that this run does not write, those HEAD holds
    with the very bytes committed now: adopted by an earlier run made without a commit."""
    git = project.git
    assert git is not None
    rel = TopPaths(project.root, git.top)
    wanted = {rel(p): p for p in added if p not in writes and files.get(rel(p)) is not None}
    if not wanted:
        return set()
    import hashlib

    found = set()
    for name, oid in head_entries(git.top, list(wanted)).items():
        data = files.get(name)
        if name in wanted and data is not None:
            digest = hashlib.sha1 if len(oid) == 40 else hashlib.sha256
            if digest(b"blob %d\0%s" % (len(data), data)).hexdigest() == oid:
                found.add(wanted[name])
    return found


def _commit_for(
    project: Project,
    plan: Plan,
    old: manifest_mod.Manifest | None,
    writes: dict[str, bytes | None],
) -> _Commit:
    from rulesync.gitlog import commit_message, describe, manifest_change  # only for a commit

    git = project.git
    assert git is not None
    rel = TopPaths(project.root, git.top)
    # With nothing to write, the commit holds the manifest as it is on disk: a new library
    # revision alone is recorded with the next change of this project's files.
    new = plan.manifest if plan.changes or plan.manifest_changed else plan.current
    paths = set(manifest_change(old, new).paths) | set(writes)
    block_paths = _block_paths(project, old)
    managed = new.managed
    files: dict[str, bytes | None] = {}
    had_file: set[str] = set()
    keeps_file: set[str] = set()
    for path in paths:
        name = rel(path)
        block = path in block_paths
        content: bytes | None = None
        if path in managed:
            content = (project.output.blocks if block else project.output.files).get(path)
            if content is None or project.digests[path] != managed[path]:
                continue  # a conflict keeps the user's file, which rulesync never commits
        if not block:
            files[name] = content
            continue
        # The block goes into the committed file, not the work tree's: the user's own
        # uncommitted text around it stays theirs to commit.
        at_head = show_head_file(git.top, name)
        try:
            files[name] = splice(at_head, content, path)
        except InvalidInput:
            files[name] = writes.get(path, content)
        if at_head is not None:
            had_file.add(path)
        if files[name] is not None:
            keeps_file.add(path)
    if project.manifest.legacy:
        files[rel(manifest_mod.LEGACY_MANIFEST)] = None
    files[rel(manifest_mod.MANIFEST)] = manifest_mod.dumps(new)
    files[rel(MARKER)] = project.marker.source
    library = _library_files(project)
    files.update((rel(path), data) for path, data in library.items())
    if library:
        files.update(_library_gone(project, library))
    adopted = _already_at_head(project, files, manifest_change(old, new).added, writes)
    change = describe(old, plan, had_file=had_file, keeps_file=keeps_file, at_head=adopted)
    message = commit_message(
        old,
        new,
        change,
        library_id=project.library_id,
        reasons=project.reasons,
        phase=project.marker.phase,
        evidence=project.evidence,
        library_folder=_library_folder(project) if library else "",
        at=rel,
    )
    return _Commit(git.top, files, change, message)


def sync(
    root: Path,
    config: Config,
    *,
    force: bool = False,
    no_commit: bool = False,
    lock_timeout: float | None = None,
    durable: bool = True,
    fetching: Fetching | None = None,
    holder: str = "rulesync",
    waiting: Callable[[str], None] | None = None,
) -> SyncResult:
    """Bring the project at `root` to its desired rules and commit the change.

    Raises Deferred (repository busy, lock held) and InvalidInput (bad marker or library)
    before anything is written. `holder` says who holds the project's lock to anyone waiting
    for it; `waiting` is told who holds it when this sync has waited a while.
    """
    started = time.perf_counter()
    from rulesync.git import find_git

    git = find_git(root)
    timeout = config.lock_timeout if lock_timeout is None else lock_timeout
    lock = lock_path(root, git)
    with exclusive(lock, timeout=timeout, what=str(root), holder=holder, waiting=waiting):
        project = load_project(root, config, fetching)
        plan = project.plan(force=force)
        note = _commit_note(project, no_commit)
        flag = git.git_dir / UNCOMMITTED_FLAG if git is not None and not note else None
        result = SyncResult(
            root,
            project.marker.phase,
            project.tier,
            plan,
            project.reasons,
            targets=project.targets,
            warnings=project.output.warnings,
            commit_note=note,
            inputs=project.inputs,
        )
        if git is not None:
            finish_interrupted_commit(git)
            # Left from before `git init`; the lock lives in the git dir now.
            (root / NO_GIT_LOCK).unlink(missing_ok=True)
        has_work = bool(plan.changes) or plan.manifest_changed
        old_manifest = None
        owed = False
        # Unless it is known that no commit is owed (a no-op run then starts no git
        # process), read the manifest from HEAD: is a commit owed?
        if (
            git is not None
            and flag is not None
            and (has_work or not _nothing_owed(git, flag, plan.current))
        ):
            old_manifest = _manifest_at_head(project)
            owed = _owes_commit(plan, flag, old_manifest)
            if not has_work and not owed:
                _record_at_head(git, plan.current)
        if not has_work and not owed:
            _record_written(project, plan)
            result.seconds = time.perf_counter() - started
            return result
        if git is not None:
            ensure_not_busy(git)
        # The commit holds the marker bytes this plan was made from: an editor saving it
        # again meanwhile gets its own sync and commit.
        writes = {a.path: project.written(a) for a in plan.changes}
        to_commit = _commit_for(project, plan, old_manifest, writes) if flag else None
        result.change = to_commit.change if to_commit else _work_tree_change(project, plan, writes)
        with contextlib.ExitStack() as stack:
            pending = None
            if to_commit is not None and not config.run_hooks:
                # git stores the blobs while the files are written.
                pending = stack.enter_context(snapshot(to_commit.top, to_commit.files))
            if has_work:
                if flag is not None:
                    flag.touch()
                result.backups = execute(
                    plan,
                    project.root,
                    writes,
                    project.bases,
                    backup_dir=backup_dir(root),
                    durable=durable,
                )
                result.applied = True
                _record_written(project, plan)
            if flag is not None and to_commit is not None:
                result.commit = to_commit.commit(pending, config)
                flag.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - started
    return result


def _record_written(project: Project, plan: Plan) -> None:
    """Record, where no repository can forge it, the bytes rulesync wrote or found to be the
    library's at each path: the next plan trusts the manifest's claim for exactly these."""
    kept = plan.of(Kind.ADD, Kind.UPDATE, Kind.UNCHANGED, Kind.ADOPT)
    record = {a.path: a.sha256 for a in kept if a.sha256}
    for action in plan.conflicts:
        if action.path in project.recorded:
            record[action.path] = project.recorded[action.path]
    if record == dict(project.recorded):
        return
    path = record_path(project.root)
    text = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
    with contextlib.suppress(OSError):  # a lost record only costs backups
        private.write(path, text.encode("utf-8"), sync=False)


def commit_owed(project: Project, plan: Plan) -> bool:
    """True when rulesync's own changes are written but not committed (a run stopped before
    its commit, or one made with --no-commit or before `git init`): the next sync that
    commits makes that commit."""
    git = project.git
    if git is None or not project.marker.commit:
        return False
    flag = git.git_dir / UNCOMMITTED_FLAG
    if _nothing_owed(git, flag, plan.current):
        return False
    return _owes_commit(plan, flag, _manifest_at_head(project))


def inspect(root: Path, config: Config, *, force: bool = False) -> tuple[Project, Plan]:
    """Load a project and plan without writing anything (check, diff, status, --dry-run):
    the same plan `apply` and the service make, a git-served library at its pinned revision."""
    project = load_project(root, config)
    return project, project.plan(force=force)


__all__ = ["Inputs", "Kind", "SyncResult", "commit_owed", "inspect", "sync"]
