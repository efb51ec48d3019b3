"""The service measures each project's readiness again on its reconcile timer, logs each change,
and asks a project's Prometheus at most once its interval."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

from support.daemon import Daemon, add_config, new_project, wait_for
from support.repos import git


def commit_as(repo: Path, name: str, email: str, days_ago: float = 0) -> None:
    stamp = f"@{int(time.time() - days_ago * 86400)} +0000"
    (repo / f"{name}.txt").write_text(name)
    git(repo, "add", "-A")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    subprocess.run(["git", "commit", "-q", "-m", name], cwd=repo, env=env, check=True)


def test_the_service_logs_a_change_of_readiness_found_on_its_reconcile(
    tmp_path: Path, daemon: Daemon
) -> None:
    add_config(reconcile_interval=1)
    project = new_project(tmp_path / "project")
    daemon.start()
    first = daemon.wait_event("readiness.changed", project=str(project))
    assert first["before"] is None and first["readiness"] == "advanced: not met"
    mark = daemon.mark()
    commit_as(project, "Bob Lee", "bob@example.com", days_ago=1)
    change = daemon.wait_event("readiness.changed", after=mark, project=str(project))
    assert change["before"] == "advanced: not met"
    # Two developers in 90 days now (a day ago, only Bob had committed): met, and the
    # bundled library settles for 14 days.
    assert change["readiness"] == "advanced: met, settling 0 of 14 days"
    # The same figures at the next reconciles are no news.
    later = daemon.mark()
    daemon.wait_event("reconcile.done", after=later, cause="timer")
    daemon.wait_event("reconcile.done", after=daemon.mark(), cause="timer")
    assert daemon.events("readiness.changed", after=later) == []


def test_the_service_asks_prometheus_at_most_once_its_interval(
    tmp_path: Path, daemon: Daemon
) -> None:
    """A Prometheus that accepts and never answers: each bundled query is tried once, and the
    reconciles within the interval reuse that outcome (unknown) instead of asking again."""
    connections: list[socket.socket] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            connections.append(conn)  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        add_config(
            reconcile_interval=1,
            prometheus=f"http://127.0.0.1:{port}",
            prometheus_timeout=0.5,
            prometheus_interval=3600,
        )
        project = new_project(tmp_path / "project")
        # Not waiting for the start-up reconcile's record: the queries' timeouts make it
        # longer than the 1 s timer, whose reconcile then reports it.
        daemon.start(wait=False)
        daemon.wait_event("readiness.changed", project=str(project))
        # Concurrent users, daily requests, availability: one query each.
        wait_for("the three queries", lambda: len(connections) >= 3)
        for _ in range(3):
            daemon.wait_event("reconcile.done", after=daemon.mark(), cause="timer")
        assert len(connections) == 3
    finally:
        stop.set()
        thread.join()
        for conn in connections:
            conn.close()
        server.close()
