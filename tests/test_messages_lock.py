"""A command that waits for the project's lock says what it waits for, and who holds it."""

from __future__ import annotations

import os
from pathlib import Path

from rulesync.lock import exclusive
from support.repos import rulesync


def _wait_at_most(seconds: float, library: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.write_text(f"library: {library}\nlock_timeout: {seconds}\n")


def test_apply_waiting_for_the_lock_says_who_holds_it_then_gives_up_with_exit_1(
    project: Path, library: Path
) -> None:
    # Held for the whole run, so the wait always outlasts both the notice and the timeout.
    _wait_at_most(0.4, library)
    lock = project / ".git" / "rulesync.lock"
    with exclusive(lock, timeout=0, what="test", holder="the service"):
        proc = rulesync(project, "apply", check=1)
    lines = proc.stderr.splitlines()
    pid = os.getpid()
    assert lines[0] == (
        f"rulesync: waiting for the service (pid {pid}) to finish with {project} (at most 0.4 s) …"
    )
    assert lines[1].startswith(f"rulesync: {project}: the service (pid {pid}) is syncing it")
    assert "nothing was changed" in lines[1]
    assert len(lines) == 2
    assert not (project / ".cursor").exists()


def test_a_lock_left_by_a_holder_that_wrote_nothing_is_another_rulesync_process(
    project: Path, library: Path
) -> None:
    import fcntl

    _wait_at_most(0.2, library)
    fd = os.open(project / ".git" / "rulesync.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = rulesync(project, "apply", check=1)
    finally:
        os.close(fd)
    assert "waiting for another rulesync process to finish with" in proc.stderr


def test_the_lock_says_who_holds_it_only_while_it_is_held(project: Path) -> None:
    lock = project / ".git" / "rulesync.lock"
    with exclusive(lock, timeout=0, what="test", holder="the service"):
        assert lock.read_text() == f"{os.getpid()}\tthe service\n"
    assert lock.read_text() == ""
    rulesync(project, "apply", check=0)
    assert lock.read_text() == ""
