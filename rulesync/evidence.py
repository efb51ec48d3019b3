"""Evidence for promotion: each metric measured from the source `tiers.yaml` declares for it
(`git`, `files`, `prometheus`, `file`), or pinned by the marker; now and on each day of a
settling window.

Nothing here runs a program from the repository (git goes through `rulesync.git`'s runner,
files are listed and read without following a symlink) or leaves the project. A figure that
cannot be had is unknown (None, with a reason), never 0.

History, where the source has it: `git` figures are recomputed as of each past day from the
commits; `files` and `file` figures are read from the tree of the last commit before that day;
`prometheus` asks Prometheus for the window (a range query). Where it has none (a file git
does not track, a project outside git), the record of past measurements that rulesync keeps
in its state folder answers: every live figure is written there, at most one a day per
metric unless it changed.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rulesync.names import has_control, shown_name
from rulesync.readiness import evaluate
from rulesync.sources import DEFAULT_BOTS, DEFAULT_DAYS

if TYPE_CHECKING:
    from rulesync.config import Config
    from rulesync.git import Authored
    from rulesync.library import Library, Source
    from rulesync.marker import Marker

DAY = 86400.0
# A work-tree walk, or one file read for `pattern`, stops at these (a figure past them is
# unknown: the walk would not be cheap).
MAX_ENTRIES = 200_000
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_LINE = 4096
PINNED = "pinned in .rulesync.yaml"
NOT_MEASURED = "not measured: pin it under `metrics:` in .rulesync.yaml"
RECORD_POINTS = 1000


# Readings ---------------------------------------------------------------------------------


class Reading(NamedTuple):
    """One metric's figure: its value (None: unknown, `note` says why), how it was had, and
    the time it stands for (epoch seconds; 0 for a pinned value)."""

    metric: str
    value: float | bool | None
    source: str
    measured: float = 0.0
    pinned: bool = False
    note: str = ""

    def describe(self) -> str:
        """`developers = 4 (git: authors in 90 days)`, with the reason for an unknown."""
        why = f"; {self.note}" if self.value is None and self.note else ""
        return f"{self.metric} = {show(self.value)} ({self.source}{why})"


class Evidence(NamedTuple):
    """Each metric's reading now, and its values on each earlier day (`past[0]`: a day ago)."""

    now: dict[str, Reading]
    past: tuple[dict[str, float | bool | None], ...] = ()

    @property
    def values(self) -> dict[str, float | bool | None]:
        return {name: reading.value for name, reading in self.now.items()}

    def series(self) -> list[dict[str, float | bool | None]]:
        """The values now, then a day ago, two days ago, …"""
        return [self.values, *self.past]

    def lines(self) -> tuple[str, ...]:
        """One line per metric with a source or a pin, for the commit body:
        `developers = 4 (git: authors in 90 days, 2026-12-07T02:55Z)`."""
        lines = []
        for reading in self.now.values():
            if reading.source == NOT_MEASURED:
                continue
            stamp = f", {when(reading.measured)}" if reading.measured else ""
            line = f"{reading.metric} = {show(reading.value)} ({reading.source}{stamp})"
            lines.append(line if not has_control(line) else shown_name(line))
        return tuple(lines)


def show(value: float | bool | None) -> str:
    """A figure as readiness prints it."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def when(epoch: float) -> str:
    """An ISO time in UTC to the minute (`2026-12-07T02:55Z`), "" for 0."""
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(epoch)) if epoch else ""


# Matching a glob against project-relative paths ------------------------------------------


def _glob_regex(glob: str) -> re.Pattern[str]:
    """`**` any folders (none included), `*` and `?` within one name, `[…]` a class."""
    out: list[str] = []
    parts = glob.rstrip("/").split("/")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        i = 0
        while i < len(part):
            char = part[i]
            if char == "*":
                out.append("[^/]*")
            elif char == "?":
                out.append("[^/]")
            elif char == "[" and part.find("]", i + 2) != -1:
                end = part.find("]", i + 2)
                body = part[i + 1 : end]
                body = "^" + body[1:] if body.startswith("!") else body
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
            else:
                out.append(re.escape(char))
            i += 1
        if not last:
            out.append("/")
    return re.compile("".join(out))


def _literal_prefix(glob: str) -> tuple[str, int | None]:
    """The folders before the first wildcard, and how deep below them a match can lie (None:
    any depth, for `**`)."""
    parts = glob.rstrip("/").split("/")
    fixed: list[str] = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    rest = parts[len(fixed) :]
    fixed = fixed[: len(parts) - 1] if not rest else fixed
    depth = None if "**" in rest else len(parts) - len(fixed)
    return "/".join(fixed), depth


def match(glob: str, entries: Iterable[tuple[str, bool]]) -> list[str]:
    """The paths among `entries` (path, is a folder) that `glob` names; a glob ending in `/`
    names only folders, any other names only files."""
    folders = glob.endswith("/")
    regex = _glob_regex(glob)
    return sorted(p for p, is_dir in entries if is_dir == folders and regex.fullmatch(p))


class _TooMany(Exception):
    """The walk met more entries than MAX_ENTRIES."""


def walk(root: Path, glob: str) -> Iterator[tuple[str, bool]]:
    """The work tree's folders and regular files a glob could name (below its literal
    prefix, to its depth), never through a symlink, never in `.git`."""
    prefix, depth = _literal_prefix(glob)
    count = 0
    start = root / prefix if prefix else root
    step = root
    for part in prefix.split("/") if prefix else ():
        step = step / part
        if os.path.islink(step) or not step.is_dir():
            return  # a folder of the prefix that is a symlink is never entered
    stack: list[tuple[Path, str, int]] = [(start, prefix, 0)]
    while stack:
        folder, rel, level = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            count += 1
            if count > MAX_ENTRIES:
                raise _TooMany
            if entry.name == ".git" or entry.is_symlink():
                continue
            path = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield path, True
                if depth is None or level + 1 < depth:
                    stack.append((Path(entry.path), path, level + 1))
            elif entry.is_file(follow_symlinks=False):
                yield path, False


def _count_lines(data: bytes, pattern: re.Pattern[str]) -> int:
    text = data.decode("utf-8", "replace")
    return sum(1 for line in text.splitlines() if pattern.search(line[:MAX_LINE]))


def _read_inside(root: Path, rel: str) -> bytes | None:
    """A regular file of the project, reached from the root without following any symlink
    (None when it is absent, not a regular file, or too large)."""
    from rulesync.errors import RulesyncError
    from rulesync.fsutil import read_under

    try:
        return read_under(root, rel, limit=MAX_FILE_BYTES)
    except (OSError, RulesyncError):
        return None


def _json_figure(data: bytes, key: str) -> tuple[float | bool | None, str]:
    import json

    try:
        doc: Any = json.loads(data)
    except ValueError:
        return None, "not a JSON document"
    for part in key.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None, f"no `{key}` in it"
        doc = doc[part]
    if isinstance(doc, bool):
        return doc, ""
    if isinstance(doc, int | float):
        return float(doc) if isinstance(doc, float) else doc, ""
    return None, f"`{key}` is not a number or true/false"


# The record of past measurements ---------------------------------------------------------


def record_path(root: Path) -> Path:
    from rulesync.fsutil import sha256_hex
    from rulesync.paths import state_dir

    tag = sha256_hex(os.fsencode(os.path.realpath(root)))[:12]
    return state_dir() / "evidence" / f"{tag}.json"


class Record:
    """Past figures per metric and source: (time, value) points, oldest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.points: dict[str, list[tuple[float, float | bool]]] = {}
        # When each Prometheus source's window was last asked for (epoch seconds).
        self.asked: dict[str, float] = {}
        # Each Prometheus source's last failed query: (epoch seconds, why).
        self.failed: dict[str, tuple[float, str]] = {}
        self.changed = False
        self._load()

    @staticmethod
    def key(source: Source) -> str:
        return f"{source.metric} {source.describe()}"

    def _load(self) -> None:
        import json

        from rulesync.errors import RulesyncError
        from rulesync.fsutil import read_regular

        try:
            doc = json.loads(read_regular(self.path, limit=4 * 1024 * 1024, follow=False))
        except (OSError, ValueError, RulesyncError):
            return
        if not isinstance(doc, dict):
            return
        failed = doc.get("failed")
        if isinstance(failed, dict):
            self.failed = {
                k: (float(v[0]), str(v[1]))
                for k, v in failed.items()
                if isinstance(v, list) and len(v) == 2 and isinstance(v[0], int | float)
            }
        asked = doc.get("asked")
        if isinstance(asked, dict):
            self.asked = {k: float(v) for k, v in asked.items() if isinstance(v, int | float)}
        for key, points in (doc.get("metrics") or {}).items():
            if isinstance(key, str) and isinstance(points, list):
                self.points[key] = [
                    (float(p[0]), p[1])
                    for p in points
                    if isinstance(p, list)
                    and len(p) == 2
                    and isinstance(p[0], int | float)
                    and isinstance(p[1], int | float | bool)
                ]

    def add(self, source: Source, at: float, value: float | bool, *, every: float = DAY) -> None:
        """Keep `value` as the figure at `at` (not when the last point is as recent as
        `every` and says the same)."""
        points = self.points.setdefault(self.key(source), [])
        if any(abs(t - at) < 1 for t, _ in points):
            return
        if points and points[-1][0] <= at and at - points[-1][0] < every and points[-1][1] == value:
            return
        points.append((at, value))
        points.sort(key=lambda p: p[0])
        del points[:-RECORD_POINTS]
        self.changed = True

    def latest(self, source: Source) -> tuple[float, float | bool] | None:
        points = self.points.get(self.key(source))
        return points[-1] if points else None

    def at(self, source: Source, moment: float) -> float | bool | None:
        """The figure last recorded at or before `moment`, if within a day and a half of it."""
        found = None
        for t, value in self.points.get(self.key(source), ()):
            if t <= moment + 1:
                found = (t, value)
        if found is None or moment - found[0] > 1.5 * DAY:
            return None
        return found[1]

    def save(self) -> None:
        import contextlib
        import json

        from rulesync.fsutil import atomic_write

        if not self.changed:
            return
        doc = {
            "version": 1,
            "asked": self.asked,
            "failed": {k: list(v) for k, v in self.failed.items()},
            "metrics": {k: [list(p) for p in v] for k, v in self.points.items()},
        }
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(self.path, json.dumps(doc).encode("utf-8"), sync=False)


# Measuring ---------------------------------------------------------------------------------


class _Measure:
    """One measurement of a project's evidence: `times[0]` is now, then one a day back."""

    def __init__(
        self, root: Path, marker: Marker, config: Config, times: list[float], fresh: bool
    ) -> None:
        from rulesync.git import find_git

        self.root = root
        self.marker = marker
        self.config = config
        self.times = times
        self.fresh = fresh
        self.git = find_git(root)
        self.prefix = ""
        if self.git is not None:
            rel = os.path.relpath(os.path.realpath(root), os.path.realpath(self.git.top))
            self.prefix = "" if rel == "." else rel.replace(os.sep, "/")
        self.record = Record(record_path(root))
        self._commits: list[tuple[str, int]] | None = None
        self._authored: dict[tuple[str, ...], list[Authored]] = {}
        self._trees: dict[tuple[str, str], list[tuple[str, bool, str]]] = {}

    # git history ------------------------------------------------------------------------

    def git_figures(self, source: Source, times: list[float]) -> list[tuple[float | None, str]]:
        from rulesync.git import authored_commits, first_commit_time

        if self.git is None:
            return [(None, "not a git repository")] * len(times)
        measure = source.what
        if measure == "age_days":
            first = first_commit_time(self.git.top)
            if first is None:
                return [(None, "no commits yet")] * len(times)
            return [
                (float(int((t - first) // DAY)), "")
                if t >= first
                else (None, "before the first commit")
                for t in times
            ]
        days = source.days or DEFAULT_DAYS.get(measure)
        paths = []
        if measure == "contributors":
            paths = [f"{self.prefix}/{source.path}" if self.prefix else source.path]
        elif self.prefix:
            paths = [self.prefix]
        key = tuple(paths)
        if key not in self._authored:  # now and the past days come from one walk
            self._authored[key] = authored_commits(self.git.top, paths)
        commits = self._authored[key]
        bots = re.compile(source.exclude or DEFAULT_BOTS)
        # rulesync's own commits are no one's work.
        own = self.config.commit_author[1].lower()
        commits = [c for c in commits if c.email.lower() != own]
        people = [c for c in commits if not bots.search(f"{c.name} <{c.email}>")]
        figures: list[tuple[float | None, str]] = []
        for t in times:
            low = float("-inf") if days is None else t - days * DAY
            inside = [
                c
                for c in (people if measure != "commits_per_week" else commits)
                if low < c.time <= t
            ]
            if measure == "commits_per_week":
                assert days is not None
                figures.append((round(len(inside) / (days / 7), 2), ""))
            else:
                figures.append((float(len({(c.email or c.name).lower() for c in inside})), ""))
        return figures

    # files --------------------------------------------------------------------------------

    def _commit_at(self, moment: float) -> str | None:
        """The last commit committed at or before `moment` (from one listing of the window)."""
        from rulesync.git import commit_times

        if self._commits is None:
            assert self.git is not None
            self._commits = commit_times(self.git.top)
        before = [c for c in self._commits if c[1] <= moment]
        return max(before, key=lambda c: c[1])[0] if before else None

    def _tree(self, commit: str, folder: str) -> list[tuple[str, bool, str]]:
        """The folders and files of `folder` (project-relative; "" for all) in a commit, as
        (project-relative path, is a folder, blob id)."""
        from rulesync.git import tree_entries

        key = (commit, folder)
        if key not in self._trees:
            assert self.git is not None
            inside = "/".join(p for p in (self.prefix, folder) if p)
            lead = f"{folder}/" if folder else ""
            self._trees[key] = [
                (lead + e.path, e.folder, e.blob)
                for e in tree_entries(self.git.top, commit, inside)
            ]
        return self._trees[key]

    def _files_figure(
        self, source: Source, entries: list[tuple[str, bool]], read: Any
    ) -> tuple[float | None, str]:
        found = match(source.what, entries)
        if source.present:
            return (1.0 if found else 0.0), ""
        if source.pattern:
            regex = re.compile(source.pattern)
            total = 0
            for path in found:
                data = read(path)
                if data is None:
                    return None, f"{shown_name(path)} cannot be read (too large, or not a file)"
                total += _count_lines(data, regex)
            return float(total), ""
        return float(len(found)), ""

    def files_now(self, source: Source) -> tuple[float | None, str]:
        try:
            entries = list(walk(self.root, source.what))
        except _TooMany:
            return None, f"more than {MAX_ENTRIES} entries to look through"
        return self._files_figure(source, entries, lambda p: _read_inside(self.root, p))

    def files_then(self, source: Source, moment: float) -> float | bool | None:
        from rulesync.git import read_blob

        if self.git is None:
            return self.record.at(source, moment)
        commit = self._commit_at(moment)
        if commit is None:
            return None
        tree = self._tree(commit, _literal_prefix(source.what)[0])
        blobs = {path: blob for path, folder, blob in tree if not folder}
        git = self.git

        def read(path: str) -> bytes | None:
            return read_blob(git.top, blobs[path], MAX_FILE_BYTES)

        value, _ = self._files_figure(source, [(p, f) for p, f, _ in tree], read)
        return value

    # a JSON file ----------------------------------------------------------------------------

    def file_now(self, source: Source) -> tuple[float | bool | None, float, str]:
        data = _read_inside(self.root, source.what)
        if data is None:
            return None, 0.0, f"{source.what} is missing (or not a regular file inside the project)"
        value, note = _json_figure(data, source.key)
        try:
            measured = os.lstat(self.root / source.what).st_mtime
        except OSError:
            measured = time.time()
        return value, measured, note

    def file_then(self, source: Source, moment: float) -> float | bool | None:
        from rulesync.git import read_blob

        if self.git is not None:
            commit = self._commit_at(moment)
            if commit is not None:
                tree = self._tree(commit, source.what.rpartition("/")[0])
                blobs = {p: b for p, folder, b in tree if not folder}
                if source.what in blobs:
                    data = read_blob(self.git.top, blobs[source.what], MAX_FILE_BYTES)
                    return _json_figure(data, source.key)[0] if data is not None else None
        return self.record.at(source, moment)

    # Prometheus --------------------------------------------------------------------------

    def prometheus_url(self) -> str | None:
        return self.marker.prometheus or self.config.prometheus

    def prometheus(self, source: Source) -> tuple[float | None, float, str]:
        """The figure now. Unless this measurement is fresh, Prometheus is asked at most once
        an interval: until then the last answer (a figure from the record, or the reason
        there was none) stands."""
        from rulesync import prometheus

        url = self.prometheus_url()
        if url is None:
            return None, 0.0, "no Prometheus URL: add `prometheus: URL` to .rulesync.yaml"
        now = self.times[0]
        key = Record.key(source)
        interval = self.config.prometheus_interval
        failed = self.record.failed.get(key)
        latest = self.record.latest(source)
        if not self.fresh and failed is not None and now - failed[0] < interval:
            return None, 0.0, f"{failed[1]} (at {when(failed[0])})"
        if not self.fresh and latest is not None and now - latest[0] < interval:
            return latest[1], latest[0], ""
        answer = prometheus.query(url, source.what, timeout=self.config.prometheus_timeout)
        self.record.changed = True
        if answer.value is None:
            self.record.failed[key] = (now, answer.note)
            return None, 0.0, answer.note
        self.record.failed.pop(key, None)
        measured = answer.at or now
        self.record.add(source, measured, answer.value, every=0)
        return answer.value, measured, ""

    def prometheus_window(self, source: Source) -> None:
        """Ask Prometheus for the figure on each day of the window (one range query, at most
        once an interval unless fresh); the points go to the record."""
        from rulesync import prometheus

        url = self.prometheus_url()
        asked = self.record.asked.get(Record.key(source), 0.0)
        now = self.times[0]
        if url is None or (not self.fresh and now - asked < self.config.prometheus_interval):
            return
        answer = prometheus.query_range(
            url,
            source.what,
            start=self.times[-1],
            end=now,
            step=DAY,
            timeout=self.config.prometheus_timeout,
        )
        self.record.asked[Record.key(source)] = now
        self.record.changed = True
        for at, value in answer.points:
            self.record.add(source, at, value, every=0)

    # all of them ---------------------------------------------------------------------------

    def reading(self, source: Source) -> Reading:
        """The figure now."""
        now = self.times[0]
        described = source.describe()
        if source.kind == "git":
            value, note = self.git_figures(source, [now])[0]
            return Reading(source.metric, value, described, now, note=note)
        if source.kind == "files":
            value, note = self.files_now(source)
            if value is not None:
                self.record.add(source, now, value)
            return Reading(source.metric, value, described, now, note=note)
        if source.kind == "file":
            found, measured, note = self.file_now(source)
            if found is not None:
                self.record.add(source, measured, found)
            return Reading(source.metric, found, described, measured, note=note)
        value, measured, note = self.prometheus(source)
        return Reading(source.metric, value, described, measured, note=note)

    def history(self, source: Source, now: Reading) -> list[float | bool | None]:
        """The figure on each earlier day (`times[1:]`)."""
        past = self.times[1:]
        if source.kind == "git":
            return [v for v, _ in self.git_figures(source, past)]
        if source.kind == "files":
            return [self.files_then(source, t) for t in past]
        if source.kind == "file":
            return [self.file_then(source, t) for t in past]
        if now.value is not None:
            self.prometheus_window(source)
        return [self.record.at(source, t) for t in past]


def _plain(text: str) -> str:
    """`text` fit for one line of output: a Prometheus' error message or a library's key may
    hold control or escape characters, shown escaped."""
    return shown_name(text)[1:-1] if has_control(text) else text


def _fit(value: float | bool | None, wants_bool: bool) -> tuple[float | bool | None, str]:
    """A measured figure as its criteria compare it: a count is true when not 0."""
    if value is None:
        return None, ""
    if wants_bool:
        return bool(value), ""
    if isinstance(value, bool):
        return None, "true/false where a number is wanted"
    return (int(value) if isinstance(value, float) and value.is_integer() else value), ""


def measure(
    root: Path,
    library: Library,
    marker: Marker,
    config: Config,
    *,
    days: int = 0,
    fresh: bool = False,
    now: float | None = None,
) -> Evidence:
    """Every metric the library's criteria name: pinned by the marker, measured from its
    source, or unknown; with `days`, the values on each of that many earlier days too.
    `fresh` asks Prometheus even when the record holds a figure younger than the interval."""
    wanted: dict[str, bool] = {}
    for tier in library.tiers:
        for criterion in tier.criteria:
            wanted.setdefault(criterion.metric, isinstance(criterion.value, bool))
    moment = time.time() if now is None else now
    work = _Measure(root, marker, config, [moment], fresh)
    readings: dict[str, Reading] = {}
    for metric, wants_bool in wanted.items():
        source = library.sources.get(metric)
        if metric in marker.metrics:
            readings[metric] = Reading(metric, marker.metrics[metric], PINNED, pinned=True)
        elif source is None:
            readings[metric] = Reading(metric, None, NOT_MEASURED)
        else:
            reading = work.reading(source)
            value, note = _fit(reading.value, wants_bool)
            readings[metric] = reading._replace(
                value=value, source=_plain(reading.source), note=_plain(note or reading.note)
            )
    # The past matters only for a tier met now: how long has it been met?
    values = {name: r.value for name, r in readings.items()}
    days = min(
        days,
        max((t.policy.settle_days for t in library.tiers if evaluate(t, values).met), default=0),
    )
    past: list[dict[str, float | bool | None]] = [{} for _ in range(days)]
    if days:
        work.times = [moment - k * DAY for k in range(days + 1)]
        for metric, reading in readings.items():
            source = library.sources.get(metric)
            earlier: list[float | bool | None]
            if reading.pinned or source is None:
                earlier = [reading.value] * days  # a person's word stands for the whole window
            else:
                earlier = [_fit(v, wanted[metric])[0] for v in work.history(source, reading)]
            for day, figure in zip(past, earlier, strict=True):
                day[metric] = figure
    work.record.save()
    return Evidence(readings, tuple(past))


def max_settle_days(library: Library) -> int:
    """The longest settling time among the library's tiers."""
    return max((t.policy.settle_days for t in library.tiers), default=0)
