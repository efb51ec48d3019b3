"""`doctor` reports the watches the running service really holds; the pre-commit hook speaks
of every target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rulesync import doctor
from rulesync.doctor import InotifyLimits
from support.daemon import Daemon, inotify_usage
from support.repos import rulesync

LINUX_INOTIFY = Path("/proc/sys/fs/inotify/max_user_watches").exists()


def _watches_of(pid: int) -> int:
    return inotify_usage(pid)[0]


@pytest.mark.skipif(not LINUX_INOTIFY, reason="needs Linux inotify")
def test_doctor_reports_the_watches_the_running_service_holds(
    project: Path, daemon: Daemon
) -> None:
    rulesync(project.parent, "projects", "add", str(project), check=0)
    daemon.start()
    held = _watches_of(daemon.pid)
    assert held > 0
    doc = json.loads(rulesync(project, "doctor", "--json").stdout)
    [inotify] = [c for c in doc["checks"] if c["name"] == "inotify"]
    found = re.search(r"the running service \(pid (\d+)\) holds (\d+) watches", inotify["message"])
    assert found is not None, inotify["message"]
    assert int(found.group(1)) == daemon.pid
    # What the service holds now (it only watches more if the projects change).
    assert int(found.group(2)) == _watches_of(daemon.pid) == held
    assert "in use by other programs" in inotify["message"]


def test_a_service_whose_usage_cannot_be_read_is_said_to_be_unknown() -> None:
    limits = InotifyLimits(8192, 128, 10, 2, service_pid=4242)
    message = doctor.check_inotify(limits, projects=1, platform="linux").message
    assert "the running service's own (pid 4242) cannot be read" in message
    assert "holds" not in message


def test_without_a_service_the_usage_is_everyones() -> None:
    limits = InotifyLimits(8192, 128, 10, 2)
    message = doctor.check_inotify(limits, projects=1, platform="linux").message
    assert message.startswith("watches 10 of 8,192 in use, instances 2 of 128;")


def test_the_pre_commit_hook_describes_every_targets_files() -> None:
    import yaml

    from rulesync.targets import TARGETS
    from support.repos import REPO_ROOT

    text = (REPO_ROOT / ".pre-commit-hooks.yaml").read_text()
    (hook,) = yaml.safe_load(text)
    owned = {path for target in TARGETS.values() for path in target.owns}
    assert owned <= set(re.findall(r"[\w./-]+[\w/]", hook["description"]))
    comment = " ".join(line for line in text.splitlines() if line.startswith("#"))
    assert all(path in comment for path in owned)
