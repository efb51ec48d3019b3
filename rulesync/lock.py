"""The one file lock: one writer at a time per project (shared by the service and the CLI),
and one service per user (`timeout=0`)."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from rulesync.errors import LockBusy
from rulesync.private import FILE_MODE, narrow

# A wait longer than this (or half the timeout, when that is shorter) is said out loud.
NOTICE_AFTER = 1.0


def holder_of(fd: int) -> str:
    """Who holds the lock, as its holder wrote it into the file: `the service (pid 12)`, or
    `another rulesync process` when it wrote nothing (yet)."""
    with suppress(OSError, ValueError):
        pid, _, who = os.pread(fd, 256, 0).decode("utf-8").strip().partition("\t")
        if pid.isdigit() and who:
            return f"{who} (pid {pid})"
    return "another rulesync process"


@contextmanager
def exclusive(
    path: Path,
    *,
    timeout: float,
    what: str,
    holder: str = "rulesync",
    waiting: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold an flock on `path` (created if needed), waiting at most `timeout` seconds.

    The holder writes who it is (`holder`) into the file, so a process waiting for it can
    say what it waits for: `waiting` is called once with that, after about a second.
    """
    # 0600: flock needs only an open descriptor, so a lock others can open, they can take.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        narrow(fd, FILE_MODE)  # a lock an earlier version left readable by all
        started = time.monotonic()
        deadline = started + timeout
        notice = started + min(NOTICE_AFTER, timeout / 2)
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                now = time.monotonic()
                if now >= deadline:
                    raise LockBusy(
                        f"{what}: {holder_of(fd)} is syncing it (lock {path}); "
                        "try again in a moment"
                    ) from None
                if waiting is not None and now >= notice:
                    waiting(holder_of(fd))
                    waiting = None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        with suppress(OSError):  # only a courtesy to whoever waits
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\t{holder}\n".encode(), 0)
        try:
            yield
        finally:
            with suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
