"""`rulesync fleet`: many repositories at a glance — git URLs, local clones or the registry —
read through git and never written.

A local clone is read as `status` reads it. A repository given by URL is listed with
`ls-remote`, its default branch's last commits fetched shallow into a cache of our own, and
only the files rulesync reads (the marker, the manifest and the paths a target owns) are
taken from git's objects into a scratch folder, where the same plan `check` makes is made.
Every network step has a deadline; a repository that does not answer is `unreachable`.
"""

from __future__ import annotations

import contextlib
import html
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from rulesync import manifest as manifest_mod
from rulesync.config import Config
from rulesync.errors import GitError, InvalidInput, RulesyncError
from rulesync.fsutil import sha256_hex
from rulesync.marker import MARKER
from rulesync.paths import cache_dir
from rulesync.report import (
    CONFLICT,
    DRIFT,
    IN_SYNC,
    ProjectLine,
    computed_line,
    last_commit,
)

UNREACHABLE = "unreachable"
# Each network step (listing a repository, fetching it) gets this long.
FLEET_TIMEOUT = 20.0
# How many of the default branch's last commits are fetched: where the last rulesync commit
# is looked for.
FLEET_DEPTH = 50
# The most a repository's rule files, marker and manifest may hold together, read from git.
MAX_READ_BYTES = 64 * 1024 * 1024


def fleet_root() -> Path:
    """user_cache_dir("rulesync")/fleet: the shallow copies of repositories read by URL."""
    return cache_dir() / "fleet"


def sources(given: Sequence[str], registry: bool) -> list[str]:
    """The repositories to read: those given (URLs or folders), then the registry's."""
    from rulesync.spec import is_url

    found = [g if is_url(g) else os.path.abspath(os.path.expanduser(g)) for g in given]
    if registry:
        from rulesync.registry import load_projects

        found += [str(p) for p in load_projects()]
    if not found:
        raise InvalidInput("rulesync fleet: name repositories (URLs or folders), or --registry")
    return list(dict.fromkeys(found))


def survey(
    repositories: Iterable[str], cfg: Config, *, timeout: float = FLEET_TIMEOUT
) -> list[ProjectLine]:
    """One line per repository, in the order given."""
    from rulesync.spec import is_url

    # What each project follows is its own: the user's default library plays no part.
    reading = cfg._replace(library="default")
    fetched: set[str] = set()
    lines = []
    for repository in repositories:
        if is_url(repository):
            line = _remote_line(repository, reading, timeout)
        else:
            line = _local_line(Path(repository), reading)
        _behind(line, fetched, timeout)
        lines.append(line)
    return lines


def _local_line(root: Path, cfg: Config) -> ProjectLine:
    from rulesync.registry import missing_reason

    line = ProjectLine(path=str(root), state="missing")
    gone = missing_reason(root)
    if gone is not None:
        line.why = gone
        return line
    computed_line(line, root, cfg, running=False)
    line.last_commit = last_commit(root, cfg)
    return line


def _remote_line(url: str, cfg: Config, timeout: float) -> ProjectLine:
    from rulesync.git import fetch_refs, ls_remote
    from rulesync.remote import default_branch, served_beside

    line = ProjectLine(path=url, state=UNREACHABLE)
    line.source = "git"
    try:
        refs = ls_remote(url, timeout=timeout)
        branch = default_branch(refs)
        if branch is None:
            line.state, line.why = "failing", "the repository has no branch to read"
            return line
        mirror = _fleet_mirror(url)
        fetch_refs(
            mirror,
            url,
            [f"+refs/heads/{branch}:refs/fleet/head"],
            timeout=timeout,
            depth=FLEET_DEPTH,
        )
    except GitError as exc:  # GitTimeout included: a host that does not answer
        line.why = str(exc)
        return line
    with tempfile.TemporaryDirectory(prefix="rulesync-fleet-") as scratch:
        root = Path(scratch)
        try:
            if not _extract(mirror, root):
                line.state, line.why = "failing", f"no {MARKER} on the default branch"
                return line
        except RulesyncError as exc:
            line.state, line.why = "failing", str(exc)
            return line
        recorded = _library_url(root)
        trusted = cfg
        if recorded is not None and served_beside(recorded, url):
            trusted = cfg._replace(library_urls=(*cfg.library_urls, recorded))
        computed_line(line, root, trusted, running=False)
        line.path = url
        if line.state == DRIFT:
            line.why = "not what `rulesync apply` would write: run it in a clone and push"
    line.last_commit = _last_rulesync_commit(mirror, cfg)
    return line


def _fleet_mirror(url: str) -> Path:
    from rulesync.git import init_repository

    mirror = fleet_root() / sha256_hex(url.encode())[:16]
    if not (mirror / "HEAD").exists():
        mirror.mkdir(parents=True, exist_ok=True)
        init_repository(mirror, bare=True)
    return mirror


def _extract(mirror: Path, root: Path) -> bool:
    """Write the marker, the manifest and every path some target owns from the fetched
    commit into `root` (False when the commit has no marker)."""
    from rulesync.fsutil import atomic_write
    from rulesync.git import read_blobs, tree_files
    from rulesync.targets import owner

    wanted = []
    total = 0
    for file in tree_files(mirror, "refs/fleet/head"):
        path = file.path
        if path in (MARKER, manifest_mod.MANIFEST) or (
            manifest_mod.path_problem(path) is None and owner(path) is not None
        ):
            total += file.size
            if total > MAX_READ_BYTES:
                raise InvalidInput(f"{path}: the rule files are over {MAX_READ_BYTES} bytes")
            wanted.append(file)
    if not any(file.path == MARKER for file in wanted):
        return False
    for file, data in read_blobs(mirror, wanted):
        target = root.joinpath(*file.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data, sync=False)
    return True


def _library_url(root: Path) -> str | None:
    """The repository URL the extracted project follows (marker, else manifest), if any."""
    from rulesync.marker import load_marker
    from rulesync.spec import is_url, parse_spec

    try:
        spec = load_marker(root).library or manifest_mod.load(root).library
    except RulesyncError:
        return None
    return parse_spec(spec).url if spec and is_url(spec) else None


def _last_rulesync_commit(mirror: Path, cfg: Config) -> dict[str, str] | None:
    from rulesync.git import Runner

    out = Runner(mirror).run(
        "log",
        f"--author=<{cfg.commit_author[1]}>",
        "-n1",
        "--format=%H%x1f%aI%x1f%s",
        "refs/fleet/head",
        check=False,
    )
    fields = out.strip().split("\x1f")
    if len(fields) != 3:
        return None
    return {"sha": fields[0], "date": fields[1], "subject": fields[2]}


def _behind(line: ProjectLine, fetched: set[str], timeout: float) -> None:
    """The library's newest revision (fetched once per library in a run) and how far the
    line's pinned revision is behind it."""
    from rulesync.remote import Cache, behind_by, fetch
    from rulesync.spec import is_url, parse_spec

    label, revision = line.library, line.library_revision
    if not label or not revision or not is_url(label):
        return
    spec = parse_spec(label)
    if label not in fetched:
        fetched.add(label)
        with contextlib.suppress(RulesyncError):  # what was fetched before still tells
            fetch(Cache(spec), timeout=timeout)
    line.library_newest, line.behind = behind_by(spec, revision)


def needs_attention(line: ProjectLine) -> bool:
    """True when a line makes `fleet` exit 1: behind the library, or not in sync."""
    return line.state != IN_SYNC or bool(line.behind)


STATE_COLOURS = {
    IN_SYNC: "#1a7f37",
    DRIFT: "#b35900",
    CONFLICT: "#cf222e",
    "deferred": "#6e7781",
    UNREACHABLE: "#8250df",
    "failing": "#cf222e",
    "missing": "#6e7781",
}


def fleet_doc(lines: Sequence[ProjectLine]) -> dict[str, object]:
    """The JSON document `fleet --json` prints."""
    return {
        "repositories": [line.doc() for line in lines],
        "attention": sum(needs_attention(line) for line in lines),
    }


def _tier_chart(lines: Sequence[ProjectLine]) -> str:
    """An inline SVG bar chart: how many repositories are on each tier."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.tier or "unknown"] = counts.get(line.tier or "unknown", 0) + 1
    most = max(counts.values(), default=1)
    bar, gap, width = 22, 8, 320
    rows = []
    for index, (tier, count) in enumerate(counts.items()):
        y = index * (bar + gap)
        length = max(2, round(width * count / most))
        rows.append(
            f'<text x="0" y="{y + 16}" font-size="13">{html.escape(tier)}</text>'
            f'<rect x="110" y="{y}" width="{length}" height="{bar}" fill="#0969da"></rect>'
            f'<text x="{118 + length}" y="{y + 16}" font-size="13">{count}</text>'
        )
    height = max(1, len(counts)) * (bar + gap)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="tiers" '
        f'width="{width + 160}" height="{height}">{"".join(rows)}</svg>'
    )


def render_html(lines: Sequence[ProjectLine], title: str = "rulesync fleet") -> str:
    """One static, self-contained page: a row per repository (colour for its state,
    behind-by counts) and the tier distribution; it requests nothing from anywhere."""
    esc = html.escape
    rows = []
    for line in lines:
        colour = STATE_COLOURS.get(line.state, "#6e7781")
        revision = (line.library_revision or "")[:12]
        behind = "" if line.behind is None else str(line.behind)
        ready = {True: "ready", False: "not yet", None: ""}[line.ready]
        next_tier = f"{line.next_tier}: {ready}" if line.next_tier else "top tier"
        commit = line.last_commit["subject"] if line.last_commit else ""
        rows.append(
            "<tr>"
            f"<td class=repo>{esc(line.path)}</td>"
            f"<td>{esc(line.phase or '')}</td><td>{esc(line.tier or '')}</td>"
            f"<td>{esc(line.library or '')}</td><td><code>{esc(revision)}</code></td>"
            f'<td class="{"behind" if line.behind else ""}">{esc(behind)}</td>'
            f'<td><span class=state style="background:{colour}">{esc(line.state)}</span>'
            f"<div class=why>{esc(line.why)}</div></td>"
            f"<td>{esc(next_tier)}</td><td>{esc(commit)}</td>"
            "</tr>"
        )
    attention = sum(needs_attention(line) for line in lines)
    style = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328}"
        "table{border-collapse:collapse;width:100%;font-size:14px}"
        "th,td{border-bottom:1px solid #d0d7de;padding:6px 8px;text-align:left;"
        "vertical-align:top}"
        "th{background:#f6f8fa}.state{color:#fff;border-radius:10px;padding:2px 8px}"
        ".behind{color:#cf222e;font-weight:bold}.why{color:#57606a;font-size:12px}"
        ".repo{font-family:monospace}"
    )
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{esc(title)}</title><style>{style}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f"<p id=summary>{len(lines)} repositories, {attention} need attention "
        "(behind their library, or not in sync)</p>"
        "<h2>Tiers</h2>"
        f"{_tier_chart(lines)}"
        "<h2>Repositories</h2>"
        "<table id=fleet><thead><tr><th>repository</th><th>phase</th><th>tier</th>"
        "<th>library</th><th>revision</th><th>behind</th><th>state</th>"
        "<th>next tier</th><th>last rulesync commit</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )


__all__ = ["CONFLICT", "DRIFT", "UNREACHABLE", "needs_attention", "sources", "survey"]
