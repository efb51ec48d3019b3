"""The folders rulesync keeps its own files in, for the user running it (platformdirs' names,
so XDG_* and HOME move them). One module for every folder, importing nothing of rulesync's:
anything may ask where its files go without pulling in the rest."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "rulesync"  # the name of rulesync's folder in each of the user's folders


def _user_dir(kind: str, xdg_variable: str, home_default: str) -> Path:
    """platformdirs' `user_<kind>_dir("rulesync")`, worked out here on Linux when its answer is
    plain ($XDG_… absolute, else $HOME absolute): importing platformdirs costs about as much as
    Python's own start, and every command reads config.yaml."""
    if sys.platform == "linux":
        base = os.environ.get(xdg_variable, "")
        if os.path.isabs(base):
            return Path(base, APP)
        home = os.environ.get("HOME", "")
        if os.path.isabs(home):
            return Path(home, home_default, APP)
    import platformdirs  # the other platforms, and the odd cases above

    where: str = getattr(platformdirs, f"user_{kind}_dir")(APP)
    return Path(where)


def config_dir() -> Path:
    """user_config_dir("rulesync"): config.yaml and projects.yaml."""
    return _user_dir("config", "XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    """user_state_dir("rulesync"): the service's pid file, status and backups."""
    return _user_dir("state", "XDG_STATE_HOME", ".local/state")


def cache_dir() -> Path:
    """user_cache_dir("rulesync"): the mirrors of git-served libraries."""
    return _user_dir("cache", "XDG_CACHE_HOME", ".cache")


def log_dir() -> Path:
    """user_log_dir("rulesync"): the service's rotated JSON log."""
    if sys.platform == "linux":
        return state_dir() / "log"  # platformdirs' Linux log folder
    import platformdirs  # macOS keeps logs apart (~/Library/Logs)

    return Path(platformdirs.user_log_dir(APP))
