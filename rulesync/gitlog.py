"""rulesync's commit messages: built from the manifests before and after, and read back. Pure."""

from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

from rulesync.errors import InvalidInput
from rulesync.manifest import Manifest
from rulesync.marker import MARKER
from rulesync.names import has_control, shown_name
from rulesync.plan import Kind, Plan

PHASE_TRAILER = "Rulesync-Phase"
LIBRARY_TRAILER = "Rulesync-Library"
# The project's folder from the repository's top, for a project that is not at the top.
PROJECT_TRAILER = "Rulesync-Project"


class Delta(NamedTuple):
    """Managed paths added, updated and removed, manifest to manifest."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return self.added + self.updated + self.removed


def manifest_change(old: Manifest | None, new: Manifest) -> Delta:
    """Managed paths (files and blocks) added, updated and removed between two manifests."""
    before = old.managed if old else {}
    after = new.managed
    return Delta(
        added=tuple(sorted(set(after) - set(before))),
        updated=tuple(sorted(n for n in after if n in before and before[n] != after[n])),
        removed=tuple(sorted(set(before) - set(after))),
    )


ADDED, MODIFIED, DELETED, ADOPTED, RELEASED = "A", "M", "D", "adopt", "release"
SIGNS = {ADDED: "+", MODIFIED: "~", DELETED: "-", ADOPTED: "=", RELEASED: "="}
# Paths whose bytes the sync leaves as they are, counted after the three signs.
_KEPT = {ADOPTED: "adopted", RELEASED: "released"}


class Entry(NamedTuple):
    """One line of what a sync did: `A`, `M`, `D`, `adopt` (taken over as it was) or
    `release` (handed back to the user), the path, and a note (`block added`: rulesync's
    block went into a file that was already there)."""

    code: str
    path: str
    note: str = ""

    def line(self, shown: Callable[[str], str] = str) -> str:
        """The commit body's line: `M AGENTS.md (block added)` (`shown`: the path as git
        shows it)."""
        return f"{self.code} {shown(self.path)}" + (f" ({self.note})" if self.note else "")


class Change(NamedTuple):
    """What one sync did, counted once: the console's summary and the commit's subject and
    body are both made from it."""

    entries: tuple[Entry, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(e.path for e in self.entries)

    def count(self, code: str) -> int:
        return sum(1 for e in self.entries if e.code == code)

    def counts(self, *, all_three: bool = True) -> str:
        """`+3 ~1 -0, 10 adopted` (with `all_three` false, zero counts are left out)."""
        parts = [(s, self.count(c)) for c, s in SIGNS.items() if c not in _KEPT]
        texts = [" ".join(f"{sign}{n}" for sign, n in parts if all_three or n)]
        texts += [f"{self.count(c)} {word}" for c, word in _KEPT.items() if self.count(c)]
        return ", ".join(t for t in texts if t)

    def doc(self) -> dict[str, object]:
        """As plain data, for `--json`."""
        return {
            "added": self.count(ADDED),
            "updated": self.count(MODIFIED),
            "deleted": self.count(DELETED),
            "adopted": self.count(ADOPTED),
            "released": self.count(RELEASED),
            "entries": [{"change": e.code, "path": e.path, "note": e.note} for e in self.entries],
        }


NO_CHANGE = Change(())
_REPLACED = "replaced your version, saved first"
_BLOCK = "rulesync's block"


def describe(
    old: Manifest | None,
    plan: Plan,
    *,
    had_file: Collection[str] = (),
    keeps_file: Collection[str] = (),
    at_head: Collection[str] = (),
) -> Change:
    """What a sync does from `old` (the manifest committed at HEAD, or the one on disk when
    nothing is committed) to the plan's manifest, each path once: a file whose bytes were
    already the library's is `adopt`; a block put into (or taken out of) a file that was
    (stays) there is `M … (block added)` (`had_file`, `keeps_file`: such block paths); a file
    `--force` replaced is `M`; a file put back that the manifest already listed is `A`; a file
    HEAD already holds as committed now (`at_head`: adopted by a run that did not commit) is
    `adopt`."""
    new = plan.manifest if plan.changes or plan.manifest_changed else plan.current
    delta = manifest_change(old, new)
    actions = {a.path: a for a in plan.actions}
    blocks = set(new.blocks) | set(old.blocks if old else ()) | set(plan.current.blocks)
    entries: dict[str, Entry] = {}
    for path in delta.added:
        action = actions.get(path)
        kind = action.kind if action is not None else None
        if kind is Kind.ADOPT or path in at_head:
            entries[path] = Entry(ADOPTED, path, _BLOCK if path in blocks else "")
        elif path in blocks and path in had_file:
            entries[path] = Entry(MODIFIED, path, "block added")
        elif action is not None and action.backup and kind is Kind.UPDATE:
            entries[path] = Entry(MODIFIED, path, _REPLACED)
        else:
            entries[path] = Entry(ADDED, path, _BLOCK if path in blocks else "")
    for path in delta.updated:
        entries[path] = Entry(MODIFIED, path, _BLOCK if path in blocks else "")
    for path in delta.removed:
        action = actions.get(path)
        if action is not None and action.kind is Kind.RELEASE:
            entries[path] = Entry(RELEASED, path, "you edited it: left in place, now yours")
        elif path in blocks and path in keeps_file:
            entries[path] = Entry(MODIFIED, path, "block removed")
        else:
            entries[path] = Entry(DELETED, path, _BLOCK if path in blocks else "")
    # What the work tree gets that the manifests do not show: a deleted file put back, a
    # user's edit replaced by `--force`.
    for action in plan.changes:
        if action.path in entries:
            continue
        if action.kind is Kind.ADD:
            entries[action.path] = Entry(ADDED, action.path, "put back")
        elif action.kind is Kind.UPDATE:
            entries[action.path] = Entry(MODIFIED, action.path, _REPLACED if action.backup else "")
        else:
            saved = "saved first" if action.backup else ""
            entries[action.path] = Entry(DELETED, action.path, saved)
    return Change(tuple(entries[p] for p in sorted(entries)))


def _counts(change: Change, *, all_three: bool) -> str:
    text = change.counts(all_three=all_three)
    return f"({text})" if text else "(manifest)"


def commit_message(
    old: Manifest | None,
    new: Manifest,
    change: Change,
    *,
    library_id: str,
    reasons: Sequence[str] = (),
    phase: str | None = None,
    evidence: Sequence[str] = (),
    library_folder: str = "",
    at: Callable[[str], str] | None = None,
) -> str:
    """Subject (the counts of `change`), body listing its lines as git shows the paths (`at`
    turns a project-relative path into one relative to the repository's top) and the library's
    folder when the commit carries it; with `phase: auto`, the criteria that moved it and every
    measured figure with its source; the Rulesync-Phase / Rulesync-Library trailers, and for a
    project below the top a Rulesync-Project trailer naming its folder. A field holding a
    control character or a line or paragraph separator is refused (InvalidInput): it would
    forge a line, a trailer among them."""
    shown = at or (lambda path: path)
    fields = [library_id, new.library, new.tier, *new.targets, *reasons, *evidence]
    fields += [*change.paths, *([old.library, old.tier, *old.targets] if old else [])]
    for field in fields:
        if has_control(field):
            raise InvalidInput(
                f"rulesync's commit message would hold {shown_name(field)}, which breaks a "
                "line; fix the setting or file it comes from (the marker's `library`, the "
                "library's tiers.yaml)"
            )
    if old is not None and old.tier and old.library and old.library != new.library:
        subject = (
            f"rulesync: library {old.library} → {new.library} {_counts(change, all_three=True)}"
        )
    elif old is None or not old.tier:
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
            f"rulesync: library {old.revision[:7]} → {new.revision[:7]} "
            f"{_counts(change, all_three=False)}"
        )
    else:
        subject = f"rulesync: update {new.tier} rules {_counts(change, all_three=False)}"
    body = [entry.line(shown) for entry in change.entries]
    if library_folder and not has_control(library_folder):  # one line, never a forged one
        body.append(f"with the library the rules come from: {shown(library_folder)}")
    lines = [subject, ""]
    if body:
        lines += [*body, ""]
    if reasons:
        lines += [f"phase: auto selected {new.tier} because:", *[f"  - {r}" for r in reasons], ""]
    if evidence:
        lines += ["measured:", *[f"  - {e}" for e in evidence], ""]
    tier_trailer = new.tier if phase != "auto" else f"{new.tier} (auto)"
    lines += [f"{PHASE_TRAILER}: {tier_trailer}", f"{LIBRARY_TRAILER}: {library_id}"]
    folder = shown(MARKER).rpartition("/")[0]
    if folder:
        lines.append(f"{PROJECT_TRAILER}: {folder}")
    return "\n".join(lines) + "\n"


def trailers(body: str) -> dict[str, str]:
    """The `Key: value` trailers of a commit body (its last paragraph, as git reads them)."""
    found: dict[str, str] = {}
    for line in body.strip("\n").split("\n\n")[-1].split("\n"):
        key, sep, value = line.partition(": ")
        if sep and key in (PHASE_TRAILER, LIBRARY_TRAILER, PROJECT_TRAILER):
            found[key] = value.strip()
    return found
