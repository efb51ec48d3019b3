"""The service when inotify runs out (SPEC §4): polling for the project concerned, logged once.

The limits are exhausted for real, without touching anyone else's: the service runs in a user
namespace of its own (`unshare --user`), whose inotify limits
(/proc/sys/user/max_inotify_watches and max_inotify_instances) apply to it alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.daemon import Daemon, inotify_usage, new_project, set_phase, wait_commits
from support.repos import rulesync
from support.repos import rulesync_commits as commits


def _namespaces_work() -> str | None:
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        return "needs unshare and nsenter (util-linux)"
    probe = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            "echo 5 > /proc/sys/user/max_inotify_watches",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        why = probe.stderr.strip()
        return f"no user namespace with its own inotify limits here: {why}"
    return None


SKIP = _namespaces_work()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")


class NamespacedDaemon(Daemon):
    """The service in a user namespace of its own, whose inotify limits the test sets."""

    setup = ""  # shell run inside the namespace before the service starts

    def argv(self) -> list[str]:
        script = f'{self.setup} exec "$0" -m rulesync daemon'
        return ["unshare", "--user", "--map-root-user", "sh", "-c", script, sys.executable]

    def inotify_watches(self) -> int:
        """inotify watches the service holds now."""
        return inotify_usage(self.pid)[0]

    def set_namespace_limit(self, name: str, value: int) -> None:
        """Write one of /proc/sys/user/max_inotify_* inside the service's user namespace."""
        subprocess.run(
            [
                "nsenter", "--user", "--target", str(self.pid),
                "sh", "-c", f"echo {value} > /proc/sys/user/{name}",
            ],
            check=True,
        )  # fmt: skip


@pytest.fixture
def daemon(tmp_path: Path, library: Path) -> Iterator[NamespacedDaemon]:
    """A namespaced service for this test's isolated user, always stopped after."""
    service = NamespacedDaemon(tmp_path)
    try:
        yield service
    finally:
        service.stop()


def test_exhausted_inotify_watches_fall_back_to_polling_for_that_project_only(
    tmp_path: Path, daemon: NamespacedDaemon
) -> None:
    watched = new_project(tmp_path / "watched")
    polled = new_project(tmp_path / "polled", register=False)
    daemon.start()
    # From now on the service cannot add a single inotify watch.
    daemon.set_namespace_limit("max_inotify_watches", daemon.inotify_watches())

    mark = daemon.mark()
    rulesync(polled, "projects", "add", str(polled), check=0)
    fallback = daemon.wait_event("watch.polling", after=mark, project=str(polled))
    assert "ENOSPC" in fallback["reason"]
    assert wait_commits(polled, 1) == ["rulesync: install basic rules (+3)"]

    set_phase(polled, "advanced")
    assert wait_commits(polled, 2)[0].startswith("rulesync: phase basic → advanced")
    set_phase(watched, "enterprise")
    assert wait_commits(watched, 2)[0].startswith("rulesync: phase basic → enterprise")
    set_phase(polled, "basic")
    assert wait_commits(polled, 3)[0].startswith("rulesync: phase advanced → basic")

    assert [r["project"] for r in daemon.events("watch.polling")] == [str(polled)]
    assert len(commits(watched)) == 2


def test_no_inotify_instance_left_falls_back_to_polling_everywhere(
    tmp_path: Path, daemon: NamespacedDaemon
) -> None:
    project = new_project(tmp_path / "p1")
    daemon.setup = "echo 0 > /proc/sys/user/max_inotify_instances;"
    daemon.start()
    fallback = daemon.wait_event("watch.polling", scope="all")
    assert "inotify unavailable" in fallback["reason"]
    assert daemon.inotify_watches() == 0
    assert commits(project) == ["rulesync: install basic rules (+3)"]
    set_phase(project, "advanced")
    assert wait_commits(project, 2)[0].startswith("rulesync: phase basic → advanced")
    assert len(daemon.events("watch.polling")) == 1
