"""`rulesync projects [list] / add PATH / remove PATH`: the registry, and every registered
project's state at a glance."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rulesync import manifest as manifest_mod
from rulesync.commands._common import config, project_history
from rulesync.config import Config
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK, InvalidInput, RulesyncError, os_error_text
from rulesync.marker import MARKER
from rulesync.registry import (
    add_project,
    load_projects,
    missing_reason,
    registry_path,
    remove_project,
)
from rulesync.report import emit_json

IN_SYNC, DRIFT, CONFLICT, DEFERRED, FAILING, MISSING = (
    "in sync",
    "drift",
    "conflict",
    "deferred",
    "failing",
    "missing",
)


class ProjectLine:
    """One registered project as `projects list` shows it."""

    # In the order `projects --json` prints them.
    __slots__ = (
        "last_commit",
        "last_sync",
        "library",
        "library_revision",
        "path",
        "phase",
        "source",
        "state",
        "tier",
        "why",
    )

    def __init__(self, path: str, state: str) -> None:
        self.path = path
        self.state = state
        self.why = ""
        self.phase: str | None = None
        self.tier: str | None = None
        self.library: str | None = None
        self.library_revision: str | None = None
        self.last_sync: str | None = None
        self.last_commit: dict[str, str] | None = None
        self.source = "computed"

    def doc(self) -> dict[str, object]:
        """The line as plain JSON data."""
        return {name: getattr(self, name) for name in self.__slots__}


def _last_commit(root: Path, cfg: Config) -> dict[str, str] | None:
    from rulesync.git import find_git

    git = find_git(root)
    if git is None:
        return None
    try:
        entries = project_history(root, git, cfg, limit=1)
    except RulesyncError:
        return None
    if not entries:
        return None
    return {"sha": entries[0].sha, "date": entries[0].date, "subject": entries[0].subject}


def _recorded_revision(root: Path) -> tuple[str, str | None]:
    """The library and revision the manifest last recorded ("" when unreadable)."""
    try:
        recorded = manifest_mod.load(root)
    except (RulesyncError, OSError):
        return "", None
    return recorded.library, recorded.revision


def _from_service(line: ProjectLine, record: dict[str, Any]) -> None:
    """State as the running service last recorded it."""
    line.source = "service"
    line.phase = record.get("phase")
    line.tier = record.get("tier")
    line.last_sync = record.get("last_sync")
    if record.get("error"):
        line.state, line.why = FAILING, str(record["error"])
    elif record.get("deferred"):
        line.state, line.why = DEFERRED, f"{record['deferred']}; the service retries"
    elif record.get("conflicts"):
        line.state, line.why = CONFLICT, "left as they are: " + ", ".join(record["conflicts"])
    elif line.last_sync is None:
        line.state, line.why = DRIFT, "the service has not synced it yet"
    else:
        line.state = IN_SYNC


def _computed(line: ProjectLine, root: Path, cfg: Config, *, running: bool) -> None:
    """State computed now (no service record for it): what `status` would say."""
    from rulesync.git import busy_reason
    from rulesync.sync import inspect

    try:
        project, plan = inspect(root, cfg)
    except (RulesyncError, OSError) as exc:
        why = os_error_text(exc) if isinstance(exc, OSError) else str(exc)
        line.state, line.why = FAILING, why
        return
    line.phase, line.tier = project.marker.phase, project.tier
    line.library = project.library.label
    line.library_revision = project.library.revision or plan.current.revision or None
    busy = busy_reason(project.git) if project.git is not None and project.marker.commit else None
    if plan.conflicts:
        names = ", ".join(a.path for a in plan.conflicts)
        line.state, line.why = CONFLICT, f"left as they are: {names}"
    elif plan.in_sync:
        line.state = IN_SYNC
    elif busy:
        line.state, line.why = DEFERRED, f"{busy}; run `rulesync apply` once that is done"
    else:
        line.state, line.why = (
            DRIFT,
            "run `rulesync apply`"
            + (" (the service has not synced it yet)" if running else " (no service is running)"),
        )


def describe(
    root: Path, cfg: Config, record: dict[str, Any] | None, *, running: bool = False
) -> ProjectLine:
    """One project's line: from the service's `record` when it runs, computed otherwise."""
    line = ProjectLine(path=str(root), state=MISSING)
    gone = missing_reason(root)
    if gone is not None:
        line.why = gone
        return line
    if record is not None:
        _from_service(line, record)
        library, revision = _recorded_revision(root)
        line.library, line.library_revision = library or None, revision
    else:
        _computed(line, root, cfg, running=running)
    line.last_commit = _last_commit(root, cfg)
    return line


def _list(as_json: bool) -> int:
    from rulesync.runtime import read_status, running_pid

    cfg = config()
    projects = load_projects()
    pid = running_pid()
    records = read_status() if pid is not None else {}
    running = pid is not None
    lines = [describe(p, cfg, records.get(str(p)), running=running) for p in projects]
    code = EXIT_OK if all(line.state == IN_SYNC for line in lines) else EXIT_NOT_IN_SYNC
    if as_json:
        emit_json(
            {
                "registry": str(registry_path()),
                "service": {"running": pid is not None, "pid": pid},
                "projects": [line.doc() for line in lines],
            }
        )
        return code
    for line in lines:
        print(f"{line.path}  [{line.state}]" + (f" {line.why}" if line.why else ""))
        if line.tier is not None:
            phase = f"phase {line.phase} → tier {line.tier}"
            library = f"library {line.library}" if line.library else ""
            if line.library_revision:
                library += f" @ {line.library_revision[:12]}"
            print(f"    {phase}" + (f"; {library}" if library else ""))
        sync = line.last_sync or "—"
        commit = line.last_commit
        shown = f"{commit['sha'][:10]} {commit['subject']}" if commit else "—"
        print(f"    last sync: {sync}; last rulesync commit: {shown}")
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.state] = counts.get(line.state, 0) + 1
    tally = ", ".join(f"{n} {state}" for state, n in counts.items())
    where = f"the service (pid {pid})" if pid is not None else "computed now, no service running"
    if lines:
        print(f"\n{len(lines)} project(s): {tally} ({where})")
    else:
        print(f"no projects registered in {registry_path()} (`rulesync init` registers one)")
    return code


def run(args: argparse.Namespace) -> int:
    if args.action in (None, "list"):
        return _list(args.json)
    folder = Path(os.path.abspath(os.path.expanduser(args.path)))
    if args.action == "add":
        if not os.path.lexists(folder):
            raise InvalidInput(
                f"{folder}: does not exist; `rulesync init {folder}` creates it and sets it up"
            )
        if not (folder / MARKER).exists():
            raise InvalidInput(f"{folder}: no {MARKER} here; run `rulesync init {folder}` instead")
        print(("registered " if add_project(folder) else "already registered: ") + str(folder))
        return EXIT_OK
    print(("unregistered " if remove_project(folder) else "was not registered: ") + str(folder))
    return EXIT_OK
