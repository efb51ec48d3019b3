"""`rulesync projects [list] / add PATH / remove PATH`: the registry, and every registered
project's state at a glance."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rulesync.commands._common import config
from rulesync.config import Config
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK, InvalidInput
from rulesync.marker import MARKER
from rulesync.registry import (
    add_project,
    load_projects,
    missing_reason,
    registry_path,
    remove_project,
)
from rulesync.report import (
    IN_SYNC,
    MISSING,
    ProjectLine,
    computed_line,
    emit_json,
    from_service,
    last_commit,
    recorded_revision,
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
        from_service(line, record)
        library, revision = recorded_revision(root)
        line.library, line.library_revision = library or None, revision
    else:
        computed_line(line, root, cfg, running=running)
    line.last_commit = last_commit(root, cfg)
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
        if line.readiness:
            print(f"    readiness: {line.readiness}")
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
