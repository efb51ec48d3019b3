"""The service's runtime state on disk: its pid file and when it last synced each project."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rulesync.config import state_dir
from rulesync.fsutil import atomic_write

PID_FILE = "daemon.pid"
STATUS_FILE = "status.json"


def pid_path() -> Path:
    return state_dir() / PID_FILE


def status_path() -> Path:
    return state_dir() / STATUS_FILE


def running_pid() -> int | None:
    """The pid of a live service, from its pid file (None when none runs)."""
    try:
        pid = int(pid_path().read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def read_status() -> dict[str, Any]:
    """Per-project records the service writes: last sync time, tier, commit, error."""
    try:
        data = json.loads(status_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    projects = data.get("projects", {}) if isinstance(data, dict) else {}
    return projects if isinstance(projects, dict) else {}


def write_status(projects: dict[str, Any]) -> None:
    """Replace the status file (the service calls this after syncs)."""
    path = status_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"pid": os.getpid(), "projects": projects}
    atomic_write(path, json.dumps(doc, indent=2, sort_keys=True).encode("utf-8"), sync=False)
