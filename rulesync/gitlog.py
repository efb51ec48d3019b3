"""rulesync's commit messages: built from the manifests before and after, and read back. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rulesync.errors import InvalidInput
from rulesync.manifest import Manifest
from rulesync.names import has_control, shown_name

PHASE_TRAILER = "Rulesync-Phase"
LIBRARY_TRAILER = "Rulesync-Library"


class Change(NamedTuple):
    """What a commit changes, manifest to manifest."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return self.added + self.updated + self.removed


def manifest_change(old: Manifest | None, new: Manifest) -> Change:
    """Managed paths (files and blocks) added, updated and removed between two manifests."""
    before = old.managed if old else {}
    after = new.managed
    return Change(
        added=tuple(sorted(set(after) - set(before))),
        updated=tuple(sorted(n for n in after if n in before and before[n] != after[n])),
        removed=tuple(sorted(set(before) - set(after))),
    )


def _counts(change: Change, *, all_three: bool) -> str:
    parts = [("+", len(change.added)), ("~", len(change.updated)), ("-", len(change.removed))]
    shown = [f"{sign}{n}" for sign, n in parts if all_three or n]
    return f"({' '.join(shown)})" if shown else "(manifest)"


def commit_message(
    old: Manifest | None,
    new: Manifest,
    *,
    library_id: str,
    reasons: Sequence[str] = (),
    phase: str | None = None,
) -> str:
    """Subject, body listing the project-relative paths, and the Rulesync-Phase /
    Rulesync-Library trailers. A field holding a control character or a line or paragraph
    separator is refused (InvalidInput): it would forge a line, a trailer among them."""
    change = manifest_change(old, new)
    fields = [library_id, new.tier, *new.targets, *reasons, *change.paths]
    fields += [old.tier, *old.targets] if old else []
    for field in fields:
        if has_control(field):
            raise InvalidInput(
                f"rulesync's commit message would hold {shown_name(field)}, which breaks a "
                "line; fix the setting or file it comes from (the marker's `library`, the "
                "library's tiers.yaml)"
            )
    if old is None or not old.tier:
        subject = f"rulesync: install {new.tier} rules {_counts(change, all_three=False)}"
    elif old.tier != new.tier:
        subject = f"rulesync: phase {old.tier} → {new.tier} {_counts(change, all_three=True)}"
    elif old.targets and old.targets != new.targets:
        subject = (
            f"rulesync: targets {', '.join(old.targets)} → {', '.join(new.targets)} "
            f"{_counts(change, all_three=True)}"
        )
    elif old.revision and new.revision and old.revision != new.revision:
        subject = (
            f"rulesync: library {old.revision[:7]}..{new.revision[:7]} "
            f"{_counts(change, all_three=False)}"
        )
    else:
        subject = f"rulesync: update {new.tier} rules {_counts(change, all_three=False)}"
    body = [f"A {path}" for path in change.added]
    body += [f"M {path}" for path in change.updated]
    body += [f"D {path}" for path in change.removed]
    lines = [subject, ""]
    if body:
        lines += [*body, ""]
    if reasons:
        lines += [f"phase: auto selected {new.tier} because:", *[f"  - {r}" for r in reasons], ""]
    tier_trailer = new.tier if phase != "auto" else f"{new.tier} (auto)"
    lines += [f"{PHASE_TRAILER}: {tier_trailer}", f"{LIBRARY_TRAILER}: {library_id}"]
    return "\n".join(lines) + "\n"


def trailers(body: str) -> dict[str, str]:
    """The `Key: value` trailers of a commit body (its last paragraph, as git reads them)."""
    found: dict[str, str] = {}
    for line in body.strip("\n").split("\n\n")[-1].split("\n"):
        key, sep, value = line.partition(": ")
        if sep and key in (PHASE_TRAILER, LIBRARY_TRAILER):
            found[key] = value.strip()
    return found
