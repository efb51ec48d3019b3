"""What the service's queue carries, and the pure decisions about events: which ones matter,
which leave a complete marker, when a burst is synced, how long a failing project waits."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import NamedTuple

from rulesync.fsutil import TMP_MARK
from rulesync.git import BUSY_FILES
from rulesync.library import TIERS_FILE
from rulesync.marker import MARKER
from rulesync.registry import REGISTRY
from rulesync.targets import ROOT_FILES

BACKOFF_CAP = 60.0


class WatchKind(StrEnum):
    """What a watched folder is to its owner; also the cause a change event gives its sync."""

    MARKER = "marker"  # a project's root, watched for its marker
    RULES = "rules"  # an enabled target's folder (.cursor/rules, .claude/rules, …)
    GIT = "git"  # a project's git dir, while its sync is deferred
    LIBRARY = "library"  # a library's root or one of its tier folders
    REGISTRY = "registry"  # the registry's folder


# The causes a change to a watched file gives a sync (others: startup, timer, retry, …).
CHANGE_CAUSES = frozenset(WatchKind)
MARKER_WATCH = WatchKind.MARKER
RULES_WATCH = WatchKind.RULES
GIT_WATCH = WatchKind.GIT
LIBRARY_WATCH = WatchKind.LIBRARY
REGISTRY_WATCH = WatchKind.REGISTRY
REGISTRY_OWNER = "<registry>"


# Messages are tuples: `Stop("x") == Fatal("x")`. The worker tells them apart by class (its
# `match` checks isinstance), never by `==`; each has a field, so none is a falsy empty tuple.
class Changed(NamedTuple):
    """A watched folder of `owner` changed; `saved` when it left a complete marker in place."""

    owner: str
    kind: WatchKind
    saved: bool = False


class Fetched(NamedTuple):
    """A fetch moved the served revision of the git library `spec`."""

    spec: str


class Stop(NamedTuple):
    """Finish the sync in progress and stop (SIGTERM / SIGINT)."""

    reason: str


class Reload(NamedTuple):
    """Reload config and registry (SIGHUP)."""

    trigger: str


class Fatal(NamedTuple):
    """A thread the service depends on died: stop and exit non-zero."""

    reason: str


Message = Changed | Fetched | Stop | Reload | Fatal
Post = Callable[[Message], None]


def debounce_due(first: float, last: float, debounce: float, max_delay: float) -> float:
    """When a burst of events that began at `first` and last saw one at `last` is synced:
    after `debounce` seconds of quiet, but never later than `max_delay` after it began."""
    return min(last + debounce, first + max_delay)


def backoff_delay(failures: int, base: float, cap: float = BACKOFF_CAP) -> float:
    """Seconds before retry number `failures` (1 = first retry): doubling from `base`, capped."""
    return float(min(cap, base * (2 ** max(0, failures - 1))))


def is_relevant(kind: WatchKind, names: Iterable[str], *, is_self: bool) -> bool:
    """Whether an event touching `names` (base names) in a watched folder of `kind` matters.

    `is_self` is the watched folder itself going away, which always matters.
    """
    if is_self:
        return True
    names = set(names)
    if kind == WatchKind.MARKER:
        # The root also holds targets' files (AGENTS.md): drift there is looked at too.
        return MARKER in names or not names.isdisjoint(ROOT_FILES)
    if kind == WatchKind.RULES:
        # Our own temporary files come and go during a write; the rename that follows counts.
        return any(not n.startswith(TMP_MARK) for n in names)
    if kind == WatchKind.LIBRARY:
        return any(n.endswith(".mdc") or n == TIERS_FILE for n in names)
    if kind == WatchKind.GIT:
        return bool(names & set(BUSY_FILES))
    if kind == WatchKind.REGISTRY:
        return REGISTRY in names
    return False


def saves_marker(event_type: str, src_name: str, dest_name: str) -> bool:
    """Whether an event leaves a complete marker in place: its writer closed it, or a finished
    file was renamed onto it (vim, sed -i, editors' safe write). A create or a modify may still
    be followed by more writes."""
    if event_type == "closed":
        return src_name == MARKER
    return event_type == "moved" and dest_name == MARKER
