"""The plan: the desired files and blocks versus the manifest and the disk. Pure: no I/O here.

Every action is keyed by a project-relative path. A whole file (`.cursor/rules/x.mdc`) and
rulesync's block in a file the user also writes (`AGENTS.md`) follow the same rules; for a
block, "on disk" means the content between its marker lines.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from rulesync.manifest import Manifest

SYMLINK = "symlink"
NOT_A_FILE = "not-a-file"
# A block's file exists but holds no block (the user's own AGENTS.md): the block is appended.
NO_BLOCK = "no-block"
# A block's marker lines are broken (two begins, a lone end): only the user can say which
# text is theirs.
BROKEN_BLOCK = "broken-block"
_UNREPLACEABLE = (NOT_A_FILE, BROKEN_BLOCK)


class Kind(StrEnum):
    """What happens to one managed file or block."""

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    # Bytes already on disk that are exactly what rulesync would write, not yet rulesync's:
    # the manifest records them, nothing is written (taking over an existing repository).
    ADOPT = "adopt"
    # A managed file the user edited that the tier no longer has (left the tier, or was
    # excluded): it stays as the user left it and leaves the manifest; it is theirs now.
    RELEASE = "release"
    CONFLICT = "conflict"


class Action(NamedTuple):
    """One step of the plan. `backup` means `--force` replaces or removes the user's version;
    `block` that the path's managed part is rulesync's block, not the whole file; `rule` the
    rule it is written from (its path without `.mdc`, what `exclude:` takes), when one is."""

    kind: Kind
    path: str
    sha256: str = ""
    reason: str = ""
    backup: bool = False
    block: bool = False
    rule: str = ""


class Desired(NamedTuple):
    """The desired state as digests: path → sha256 of each whole file, and of each block's
    content; `rules`: path → the rule a file is written from."""

    files: Mapping[str, str] = MappingProxyType({})
    blocks: Mapping[str, str] = MappingProxyType({})
    rules: Mapping[str, str] = MappingProxyType({})


class Plan(NamedTuple):
    """Every action, and the manifest to write once they are done."""

    actions: tuple[Action, ...]
    current: Manifest
    manifest: Manifest

    def of(self, *kinds: Kind) -> list[Action]:
        return [a for a in self.actions if a.kind in kinds]

    @property
    def changes(self) -> list[Action]:
        """The actions that write or delete a file or block."""
        return self.of(Kind.ADD, Kind.UPDATE, Kind.DELETE)

    @property
    def conflicts(self) -> list[Action]:
        return self.of(Kind.CONFLICT)

    @property
    def manifest_changed(self) -> bool:
        # A new library revision alone is not a change: it is recorded with the next change
        # of this project's files, so projects whose rules did not move get no commit.
        old, new = self.current, self.manifest
        return old.legacy or (
            old.library,
            old.tier,
            old.files,
            old.blocks,
            old.targets,
            bool(old.pending),
        ) != (new.library, new.tier, new.files, new.blocks, new.targets, False)

    @property
    def in_sync(self) -> bool:
        """True when `apply` would change nothing: no file to write or delete, no conflict."""
        return not self.changes and not self.conflicts and not self.manifest_changed

    def counts(self) -> dict[str, int]:
        return {kind.value: len(self.of(kind)) for kind in Kind}


def make_plan(
    desired: Desired,
    manifest: Manifest,
    disk: Mapping[str, str],
    *,
    library: str,
    tier: str,
    targets: tuple[str, ...] = (),
    revision: str | None = None,
    force: bool = False,
    provided: Mapping[str, frozenset[str]] | None = None,
) -> Plan:
    """Compare desired with the manifest and disk (path → sha256 of the file, or of the block's
    content for a block path; else SYMLINK, NOT_A_FILE, NO_BLOCK or BROKEN_BLOCK; absent:
    missing) and return the plan. Content rulesync did not write is a conflict, never
    overwritten unless `force`. `provided` (path → every sha256 rulesync is known to have
    written or the library's rules render to there) marks the replacement or deletion of a
    file or block the manifest owns for backup when it is none of them: the manifest is a
    claim, and a manifest edited to claim the user's file must not make rulesync lose it.
    """
    actions: list[Action] = []
    kept: dict[str, str] = {}
    block_paths = set(desired.blocks) | set(manifest.blocks)
    managed, listed = manifest.managed, manifest.paths
    for path in sorted(set(desired.files) | set(desired.blocks) | listed):
        block = path in block_paths
        want = desired.blocks.get(path) if block else desired.files.get(path)
        have = disk.get(path)
        if block and have == NO_BLOCK:
            have = None  # the user's file without a block: nothing of rulesync's is there
        owned = have is not None and manifest.owns(path, have)
        claimed = owned and have != want and provided is not None
        if claimed and have not in (provided or {}).get(path, ()):
            # The manifest's claim alone, never rulesync's bytes: saved before they go.
            kind = Kind.DELETE if want is None else Kind.UPDATE
            step: tuple[Kind, str, bool] | None = (kind, _NEVER_PROVIDED, True)
        else:
            step = _step(want, have, owned, force, path, listed, block)
        if step is not None and step[0] is Kind.UNCHANGED and path not in listed:
            step = (Kind.ADOPT, "already there, byte for byte", False)
        if step is None:
            continue
        kind, reason, backup = step
        action = Action(kind, path, want or "", reason, backup, block, desired.rules.get(path, ""))
        actions.append(action)
        if action.kind in (Kind.ADD, Kind.UPDATE, Kind.UNCHANGED, Kind.ADOPT):
            kept[path] = action.sha256
        elif action.kind is Kind.CONFLICT and path in managed:
            # A conflict leaves the user's version in place: rulesync still owns what it wrote.
            kept[path] = managed[path]
    new = Manifest(
        library=library,
        tier=tier,
        files={p: s for p, s in kept.items() if p not in block_paths},
        blocks={p: s for p, s in kept.items() if p in block_paths},
        revision=revision,
        targets=targets,
    )
    return Plan(actions=tuple(actions), current=manifest, manifest=new)


_NEVER_PROVIDED = "the library never provided these bytes; saved first"
RELEASED = "you edited it and the tier no longer has it: left in place, now yours"
CLASH = "your own (unmanaged) file has the path of a library rule"
BROKEN = "has broken rulesync marker lines"
NOT_REGULAR = "is not a regular file"
# Reasons `--force` cannot settle: only the user can.
UNFORCEABLE = (BROKEN, NOT_REGULAR)


def _step(
    want: str | None,
    have: str | None,
    owned: bool,
    force: bool,
    path: str,
    listed: frozenset[str],
    block: bool,
) -> tuple[Kind, str, bool] | None:
    """What to do with one path (kind, reason, backup); None when there is nothing to do."""
    # Why the content on disk is not rulesync's (only asked when it is not).
    why = (
        "" if have is None or owned or have == want else _conflict_reason(path, have, listed, block)
    )
    if want is not None:
        if have is None:
            return Kind.ADD, "", False
        if have == want:
            return Kind.UNCHANGED, "", False
        if owned:
            return Kind.UPDATE, "", False
        forced = force and have not in _UNREPLACEABLE
        return (Kind.UPDATE if forced else Kind.CONFLICT), why, forced
    if have is None:
        return None
    if owned:
        return Kind.DELETE, "", False
    forced = force and have not in _UNREPLACEABLE
    if not forced and path in listed and not block and have not in (*_UNREPLACEABLE, SYMLINK):
        # The user's edit of a rule the tier no longer wants: theirs to keep, not a conflict
        # whose only way out deletes it.
        return Kind.RELEASE, RELEASED, False
    return (Kind.DELETE if forced else Kind.CONFLICT), why + "; it is leaving this tier", forced


def _conflict_reason(path: str, have: str, listed: frozenset[str], block: bool) -> str:
    if have == SYMLINK:
        return "is a symlink, not a file rulesync wrote"
    if have == NOT_A_FILE:
        return NOT_REGULAR
    if have == BROKEN_BLOCK:
        return BROKEN
    if path in listed:  # the manifest's paths
        return "was edited since rulesync wrote it or took it over"
    if block:
        return "holds a rulesync block rulesync did not write"
    return CLASH
