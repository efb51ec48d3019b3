"""The service's runtime state on disk: its pid file and its status record per project."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rulesync import private
from rulesync.paths import state_dir

PID_FILE = "daemon.pid"
STATUS_FILE = "status.json"
# One writer at a time within the process: the temporary file's name is not unique per thread.
_WRITING = threading.Lock()


class ProjectStatus:
    """What the status file says about one project (`rulesync status` reads it)."""

    __slots__ = (
        "commit",
        "conflicts",
        "deferred",
        "error",
        "last_sync",
        "phase",
        "polling",
        "readiness",
        "tier",
    )

    def __init__(self) -> None:
        self.last_sync: str | None = None
        self.phase: str | None = None
        self.tier: str | None = None
        self.commit: str | None = None
        self.error: str | None = None
        self.deferred: str | None = None
        self.conflicts: tuple[str, ...] = ()
        self.polling = False
        # The next tier's readiness as last measured (`advanced: met, settling 3 of 14 days`).
        self.readiness: str | None = None

    def doc(self) -> dict[str, object]:
        """The record as plain JSON data."""
        data: dict[str, object] = {name: getattr(self, name) for name in self.__slots__}
        data["conflicts"] = list(self.conflicts)
        return data


def pid_path() -> Path:
    return state_dir() / PID_FILE


def status_path() -> Path:
    return state_dir() / STATUS_FILE


def read_pid(path: Path | None = None) -> int | None:
    """The pid a pid file holds (the service's by default); None when absent or unreadable."""
    try:
        return int((path or pid_path()).read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_pid() -> None:
    """Record this process as the running service (the caller holds the service lock)."""
    with _WRITING:
        private.write(pid_path(), f"{os.getpid()}\n".encode(), sync=False)


def remove_pid() -> None:
    """Remove the pid file if it still names this process."""
    if read_pid() == os.getpid():
        with contextlib.suppress(OSError):
            pid_path().unlink()


def running_pid() -> int | None:
    """The pid of a live service, from its pid file (None when none runs)."""
    pid = read_pid()
    if pid is None:
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


def write_status(projects: Mapping[str, ProjectStatus]) -> None:
    """Replace the status file (the service calls this after syncs)."""
    doc = {"pid": os.getpid(), "projects": {k: v.doc() for k, v in projects.items()}}
    data = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")
    with _WRITING:
        private.write(status_path(), data, sync=False)
