"""The plan: desired rules versus the manifest and the files on disk. Pure: no I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from rulesync.manifest import Manifest

SYMLINK = "symlink"
NOT_A_FILE = "not-a-file"


class Kind(StrEnum):
    """What happens to one rule file."""

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Action:
    """One step of the plan. `backup` means `--force` replaces or removes the user's version."""

    kind: Kind
    name: str
    sha256: str = ""
    reason: str = ""
    backup: bool = False


@dataclass(frozen=True)
class Plan:
    """Every action, and the manifest to write once they are done."""

    actions: tuple[Action, ...]
    current: Manifest
    manifest: Manifest

    def of(self, *kinds: Kind) -> list[Action]:
        return [a for a in self.actions if a.kind in kinds]

    @property
    def changes(self) -> list[Action]:
        """The actions that write or delete a file."""
        return self.of(Kind.ADD, Kind.UPDATE, Kind.DELETE)

    @property
    def conflicts(self) -> list[Action]:
        return self.of(Kind.CONFLICT)

    @property
    def manifest_changed(self) -> bool:
        # A new library revision alone is not a change: it is recorded with the next change
        # of this project's files, so projects whose rules did not move get no commit.
        old, new = self.current, self.manifest
        return (old.library, old.tier, old.rules, bool(old.pending)) != (
            new.library,
            new.tier,
            new.rules,
            False,
        )

    @property
    def in_sync(self) -> bool:
        """True when `apply` would change nothing: no file to write or delete, no conflict."""
        return not self.changes and not self.conflicts and not self.manifest_changed

    def counts(self) -> dict[str, int]:
        return {kind.value: len(self.of(kind)) for kind in Kind}


def make_plan(
    desired: Mapping[str, str],
    manifest: Manifest,
    disk: Mapping[str, str],
    *,
    library: str,
    tier: str,
    revision: str | None = None,
    force: bool = False,
    provided: Mapping[str, frozenset[str]] | None = None,
) -> Plan:
    """Compare desired (name → sha256) with the manifest and disk (name → sha256, SYMLINK or
    NOT_A_FILE; absent names are missing) and return the plan. A file whose content rulesync
    did not write is a conflict, never overwritten unless `force`. `provided` (name → every
    sha256 the library has for it) marks a deletion for backup when the file is none of them:
    a manifest edited to claim a file must not make its deletion lose it.
    """
    actions: list[Action] = []
    rules: dict[str, str] = {}
    for name in sorted(set(desired) | manifest.names):
        want = desired.get(name)
        have = disk.get(name)
        owned = have is not None and manifest.owns(name, have)
        if want is not None:
            if have is None:
                actions.append(Action(Kind.ADD, name, want))
                rules[name] = want
            elif have == want:
                actions.append(Action(Kind.UNCHANGED, name, want))
                rules[name] = want
            elif owned:
                actions.append(Action(Kind.UPDATE, name, want))
                rules[name] = want
            else:
                reason = _conflict_reason(name, have, manifest)
                if force and have != NOT_A_FILE:
                    actions.append(Action(Kind.UPDATE, name, want, reason, backup=True))
                    rules[name] = want
                else:
                    actions.append(Action(Kind.CONFLICT, name, want, reason))
                    if name in manifest.rules:
                        rules[name] = manifest.rules[name]
        elif have is not None:
            if owned and provided is not None and have not in provided.get(name, ()):
                reason = "the library never provided these bytes; saved before deleting"
                actions.append(Action(Kind.DELETE, name, reason=reason, backup=True))
            elif owned:
                actions.append(Action(Kind.DELETE, name))
            else:
                reason = _conflict_reason(name, have, manifest) + "; it is leaving this tier"
                if force and have != NOT_A_FILE:
                    actions.append(Action(Kind.DELETE, name, reason=reason, backup=True))
                else:
                    actions.append(Action(Kind.CONFLICT, name, reason=reason))
                    if name in manifest.rules:
                        rules[name] = manifest.rules[name]
    new = Manifest(library=library, tier=tier, rules=rules, revision=revision)
    return Plan(actions=tuple(actions), current=manifest, manifest=new)


def _conflict_reason(name: str, have: str, manifest: Manifest) -> str:
    if have == SYMLINK:
        return "is a symlink, not a file rulesync wrote"
    if have == NOT_A_FILE:
        return "is not a regular file"
    if name in manifest.names:
        return "was edited since rulesync wrote it"
    return "an unmanaged file has this rule's name"
