"""The service's registry: `projects.yaml` in the user's config folder."""

from __future__ import annotations

import os
from pathlib import Path

from rulesync import private
from rulesync.marker import MARKER
from rulesync.paths import config_dir
from rulesync.schema import Field, ListOf, Schema, Text, validate
from rulesync.yamlio import load_mapping

REGISTRY = "projects.yaml"
REGISTRY_SCHEMA = Schema(
    (Field("projects", ListOf(Text("a folder path"), "a list of folder paths"), ()),)
)


def registry_path() -> Path:
    """Where the registry lives (moves with XDG_CONFIG_HOME)."""
    return config_dir() / REGISTRY


def missing_reason(folder: Path) -> str | None:
    """Why a registered folder cannot be synced at all (gone, or no marker), else None; the
    one wording `projects list` and `doctor` share."""
    if not os.path.lexists(folder):
        return "the folder no longer exists"
    if not folder.is_dir():
        return "not a folder any more"
    if not os.path.lexists(folder / MARKER):
        return f"no {MARKER} in it (the service skips it)"
    return None


def load_projects(path: Path | None = None) -> list[Path]:
    """The registered project folders, in the order they were added."""
    path = path or registry_path()
    if not path.exists():
        return []
    values = validate(REGISTRY_SCHEMA, load_mapping(path, "project registry"), path)
    return [Path(p) for p in values["projects"]]


def _save(projects: list[Path], path: Path) -> None:
    lines = [
        "# Projects the rulesync service watches (`rulesync projects add/remove`).",
        "projects:",
    ]
    lines += [f"  - {_quote(str(p))}" for p in projects]
    if not projects:
        lines[-1] = "projects: []"
    private.write(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def add_project(folder: Path, path: Path | None = None) -> bool:
    """Register a project folder; False when it was already registered."""
    path = path or registry_path()
    folder = Path(os.path.abspath(folder))
    projects = load_projects(path)
    if folder in projects:
        return False
    _save([*projects, folder], path)
    return True


def remove_project(folder: Path, path: Path | None = None) -> bool:
    """Unregister a project folder; False when it was not registered."""
    path = path or registry_path()
    folder = Path(os.path.abspath(folder))
    projects = load_projects(path)
    if folder not in projects:
        return False
    _save([p for p in projects if p != folder], path)
    return True
