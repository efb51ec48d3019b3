"""The one file lock: one writer at a time per project (shared by the service and the CLI),
and one service per user (`timeout=0`)."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rulesync.errors import LockBusy
from rulesync.private import FILE_MODE, narrow


@contextmanager
def exclusive(path: Path, *, timeout: float, what: str) -> Iterator[None]:
    """Hold an flock on `path` (created if needed), waiting at most `timeout` seconds."""
    # 0600: flock needs only an open descriptor, so a lock others can open, they can take.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        narrow(fd, FILE_MODE)  # a lock an earlier version left readable by all
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"{what}: another rulesync process is syncing it (lock {path}); "
                        "try again in a moment"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)
