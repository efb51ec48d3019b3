"""User-level settings and the folders rulesync keeps its own files in (platformdirs)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rulesync.errors import InvalidInput
from rulesync.library import Limits
from rulesync.targets import DEFAULT, check_names
from rulesync.yamlio import check_keys, line_of, load_mapping

APP = "rulesync"
CONFIG_KEYS = (
    "library",
    "libraries",
    "targets",
    "debounce_ms",
    "reconcile_interval",
    "commit_author",
    "run_hooks",
    "log_level",
    "lock_timeout",
    "fetch_interval",
    "max_tier_bytes",
    "max_tier_rules",
    "max_tiers",
)
LOG_LEVELS = ("debug", "info", "warning", "error")


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


def log_dir() -> Path:
    """user_log_dir("rulesync"): the service's rotated JSON log."""
    if sys.platform == "linux":
        return state_dir() / "log"  # platformdirs' Linux log folder
    import platformdirs  # macOS keeps logs apart (~/Library/Logs)

    return Path(platformdirs.user_log_dir(APP))


@dataclass(frozen=True)
class Config:
    """The user's defaults from config.yaml."""

    library: str = "default"
    libraries: tuple[Path, ...] = ()
    debounce_ms: int = 50
    reconcile_interval: float = 60.0
    commit_author: tuple[str, str] = ("rulesync", "rulesync@localhost")
    run_hooks: bool = False
    log_level: str = "info"
    lock_timeout: float = 10.0
    fetch_interval: float = 300.0
    library_urls: tuple[str, ...] = ()
    targets: tuple[str, ...] = DEFAULT
    limits: Limits = field(default_factory=Limits)

    def trusts(self, folder: Path) -> bool:
        """True when the user's config lists `folder` as a library a marker may name."""
        real = os.path.realpath(folder)
        return any(os.path.realpath(p) == real for p in self.libraries)

    def trusts_url(self, url: str) -> bool:
        """True when the user's config lists the repository `url` (any ref) as a library."""
        return url in self.library_urls


def _author(value: Any, path: Path, line: int) -> tuple[str, str]:
    if isinstance(value, str) and "<" in value and value.rstrip().endswith(">"):
        name, _, email = value.rstrip()[:-1].partition("<")
        if name.strip() and email.strip():
            return name.strip(), email.strip()
    raise InvalidInput(f"{path}:{line}: commit_author must look like `Name <email>`")


def _number(data: dict[str, Any], key: str, default: float, path: Path, low: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise InvalidInput(f"{path}:{line_of(data, key)}: {key} must be a number ≥ {low}")
    return float(value)


def _count(data: dict[str, Any], key: str, default: int, path: Path) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{path}:{line_of(data, key)}: {key} must be a whole number ≥ 1")
    return value


def load_config(path: Path | None = None) -> Config:
    """Load config.yaml from the user's config folder; a missing file means the defaults."""
    path = path or config_dir() / "config.yaml"
    if not path.exists():
        return Config()
    data = load_mapping(path, "rulesync config")
    check_keys(data, CONFIG_KEYS, path, "rulesync config")
    library = data.get("library", "default")
    if not isinstance(library, str) or not library:
        raise InvalidInput(
            f"{path}:{line_of(data, 'library')}: library must be `default` or a path"
        )
    libraries = data.get("libraries", [])
    if not isinstance(libraries, list) or not all(isinstance(x, str) for x in libraries):
        raise InvalidInput(
            f"{path}:{line_of(data, 'libraries')}: libraries must be a list of paths"
        )
    log_level = data.get("log_level", "info")
    if log_level not in LOG_LEVELS:
        raise InvalidInput(
            f"{path}:{line_of(data, 'log_level')}: log_level must be one of {', '.join(LOG_LEVELS)}"
        )
    run_hooks = data.get("run_hooks", False)
    if not isinstance(run_hooks, bool):
        raise InvalidInput(f"{path}:{line_of(data, 'run_hooks')}: run_hooks must be true or false")
    author = Config.commit_author
    if "commit_author" in data:
        author = _author(data["commit_author"], path, line_of(data, "commit_author"))
    from rulesync.remote import is_url, parse_spec

    targets: tuple[str, ...] = DEFAULT
    if "targets" in data:
        targets = check_names(data["targets"], f"{path}:{line_of(data, 'targets')}")

    base = path.parent
    urls = [parse_spec(x).url for x in [*libraries, library] if is_url(x)]
    trusted = [Path(os.path.expanduser(x)) for x in libraries if not is_url(x)]
    if library != "default" and not is_url(library):
        trusted.append(Path(os.path.expanduser(library)))
        library = str(base / os.path.expanduser(library))
    return Config(
        library=library,
        libraries=tuple(p if p.is_absolute() else base / p for p in trusted),
        debounce_ms=int(_number(data, "debounce_ms", 50, path, 0)),
        reconcile_interval=_number(data, "reconcile_interval", 60.0, path, 1),
        commit_author=author,
        run_hooks=run_hooks,
        log_level=log_level,
        lock_timeout=_number(data, "lock_timeout", 10.0, path, 0),
        fetch_interval=_number(data, "fetch_interval", 300.0, path, 10),
        library_urls=tuple(urls),
        targets=targets,
        limits=Limits(
            tier_bytes=_count(data, "max_tier_bytes", Limits.tier_bytes, path),
            tier_rules=_count(data, "max_tier_rules", Limits.tier_rules, path),
            tiers=_count(data, "max_tiers", Limits.tiers, path),
        ),
    )
