"""`rulesync projects list / add PATH / remove PATH`: the service's registry."""

from __future__ import annotations

import argparse
from pathlib import Path

from rulesync.errors import InvalidInput
from rulesync.marker import MARKER
from rulesync.registry import add_project, load_projects, registry_path, remove_project
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        projects = load_projects()
        if args.json:
            emit_json(
                {
                    "registry": str(registry_path()),
                    "projects": [
                        {"path": str(p), "exists": (p / MARKER).exists()} for p in projects
                    ],
                }
            )
        else:
            for project in projects:
                note = "" if (project / MARKER).exists() else "  (no marker here)"
                print(f"{project}{note}")
        return 0
    folder = Path(args.path).expanduser().absolute()
    if args.action == "add":
        if not (folder / MARKER).exists():
            raise InvalidInput(f"{folder}: no {MARKER} here; run `rulesync init {folder}` instead")
        print(("registered " if add_project(folder) else "already registered: ") + str(folder))
        return 0
    print(("unregistered " if remove_project(folder) else "was not registered: ") + str(folder))
    return 0
