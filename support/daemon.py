"""The real `rulesync daemon` as a subprocess, its JSON log, and waiting for outcomes with a
deadline instead of sleeping; projects registered with it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rulesync.logs import log_path
from support.env import stop_process
from support.repos import RULESYNC, git, make_repo, rulesync, rulesync_commits

T = TypeVar("T")
DEADLINE = 30.0


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = DEADLINE) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def config_file() -> Path:
    """The isolated user's config.yaml."""
    return Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"


def add_config(**values: object) -> None:
    """Append settings to the user's config.yaml (the `library` fixture wrote the first line)."""
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{k}: {json.dumps(v) if isinstance(v, str) else str(v).lower()}\n"
        for k, v in values.items()
    ]
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(lines)


def new_project(path: Path, phase: str = "basic", *, register: bool = True) -> Path:
    """A real repository with a committed marker, registered with the service."""
    make_repo(path)
    (path / ".rulesync.yaml").write_text(f"phase: {phase}\n")
    git(path, "add", ".rulesync.yaml")
    git(path, "commit", "-q", "-m", "add marker")
    if register:
        rulesync(path, "projects", "add", str(path), check=0)
    return path


def wait_commits(repo: Path, count: int, timeout: float = DEADLINE) -> list[str]:
    """Wait until the current branch holds at least `count` rulesync commits."""
    return wait_for(
        f"{count} rulesync commit(s) in {repo}",
        lambda: c if len(c := rulesync_commits(repo)) >= count else None,
        timeout,
    )


def set_phase(repo: Path, phase: str) -> None:
    """A plain rewrite of the marker (open, truncate, write, close)."""
    (repo / ".rulesync.yaml").write_text(f"phase: {phase}\n")


def manifest_tier(repo: Path) -> str | None:
    """The tier recorded in the project's manifest (None before the first sync)."""
    for entry in repo.glob(".rulesync-*.json"):
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "tier" in data:
            return str(data["tier"])
    return None


class Daemon:
    """The real service in a subprocess, with the isolated user's environment."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_file = log_path()
        self.stderr_path = workdir / "daemon.stderr"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def argv(self) -> list[str]:
        """The command that runs the service."""
        return [*RULESYNC, "daemon"]

    def start(self, *, wait: bool = True, preexec_fn: Callable[[], None] | None = None) -> Daemon:
        """Start `rulesync daemon`; with `wait`, return once it has synced every project.
        `preexec_fn` runs in the child before it starts (a resource limit, as a unit sets)."""
        mark = self.mark()
        with self.stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(
                self.argv(),
                cwd=self.workdir,
                env=os.environ.copy(),
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                preexec_fn=preexec_fn,
            )
        if wait:
            self.wait_event("reconcile.done", after=mark, cause="startup")
        return self

    def records(self) -> list[dict[str, Any]]:
        """Every JSON record in the log file so far."""
        try:
            text = self.log_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue  # a line still being written
        return found

    def mark(self) -> int:
        """A position in the log: `after=` this only sees later records."""
        return len(self.records())

    def events(self, event: str, *, after: int = 0, **match: Any) -> list[dict[str, Any]]:
        """Records named `event` whose fields equal `match`, after position `after`."""
        return [
            r
            for r in self.records()[after:]
            if r.get("event") == event and all(r.get(k) == v for k, v in match.items())
        ]

    def wait_event(
        self, event: str, *, after: int = 0, timeout: float = DEADLINE, **match: Any
    ) -> dict[str, Any]:
        """Wait for a record named `event` matching `match`; fail early if the service died."""

        def probe() -> dict[str, Any] | None:
            found = self.events(event, after=after, **match)
            if found:
                return found[0]
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"the service exited ({self.proc.returncode}) before logging {event}:\n"
                    + self.stderr_path.read_text(errors="replace")[-3000:]
                )
            return None

        return wait_for(f"log event {event} {match}", probe, timeout)

    def signal(self, sig: int) -> None:
        """Send a signal to the service."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; return its exit code."""
        return None if self.proc is None else stop_process(self.proc)


def inotify_usage(pid: int) -> tuple[int, int]:
    """The inotify watches and instances process `pid` holds now, counted from /proc (the
    tests' own count, beside the one `rulesync doctor` makes)."""
    watches = instances = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                watches += sum(1 for line in info if line.startswith("inotify wd:"))
            instances += 1
        except OSError:
            continue  # closed while counted
    return watches, instances
