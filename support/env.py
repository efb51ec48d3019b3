"""A fresh user's environment, folder snapshots, and stopping a process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

# What a fresh user must not inherit: a global git config and git's own overrides.
USER_UNSET = (
    "GIT_CONFIG_GLOBAL",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
)


def user_env(home: Path) -> dict[str, str]:
    """The variables that make a fresh user living in `home` (its XDG folders are created);
    the variables in USER_UNSET are to be removed as well."""
    env = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    return env


def isolated_env(home: Path) -> dict[str, str]:
    """This process's environment for a subprocess run as a fresh user living in `home`."""
    env = {k: v for k, v in os.environ.items() if k not in USER_UNSET}
    env.update(user_env(home))
    return env


def snapshot(folder: Path, *, skip_git: bool = True) -> dict[str, bytes]:
    """Every entry under `folder` (not following symlinks): file bytes, `->target` for a
    symlink, `<dir>` for a folder, `<special>` for the rest (a fifo, a socket)."""
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        if skip_git and ".git" in dirnames and here == folder:
            dirnames.remove(".git")
        for name in dirnames + filenames:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if os.path.islink(path):
                found[rel] = b"->" + os.fsencode(os.readlink(path))
            elif path.is_dir():
                found[rel] = b"<dir>"
            elif path.is_file():
                found[rel] = path.read_bytes()
            else:
                found[rel] = b"<special>"
    return found


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10) -> int:
    """SIGTERM, then SIGKILL if it is still running after `timeout` seconds; its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
