"""A fresh user's environment, folder snapshots, and stopping a process."""

from __future__ import annotations

import contextlib
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


def rulesync_user_paths(home: Path, environ: dict[str, str]) -> tuple[Path, ...]:
    """Where rulesync writes for the user living in `home` with these variables: its XDG
    folders, the installed command and the service units."""
    xdg = {
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_STATE_HOME": home / ".local" / "state",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
    }
    bases = [Path(environ.get(name) or default) for name, default in xdg.items()]
    return (
        *(base / "rulesync" for base in bases),
        home / ".local" / "bin" / "rulesync",
        home / ".config" / "systemd" / "user" / "rulesync.units",
        home / "Library" / "LaunchAgents" / "com.rulesync.daemon.plist",
    )


def entries(paths: tuple[Path, ...]) -> dict[str, tuple[int, int]]:
    """Every entry at or under `paths`, links not followed: path → (mtime in ns, size)."""
    found: dict[str, tuple[int, int]] = {}
    for top in paths:
        tops = [str(top)] if os.path.lexists(top) else []
        walked = (os.path.join(d, n) for d, ds, fs in os.walk(top) for n in ds + fs)
        for path in [*tops, *walked]:
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(path)
                found[path] = (st.st_mtime_ns, st.st_size)
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
