"""Small helpers every command uses: finding the project and loading the user's config."""

from __future__ import annotations

from pathlib import Path

from rulesync.config import Config, load_config
from rulesync.marker import find_root


def project_root() -> Path:
    """The project around the current folder (walks up to `.rulesync.yaml`)."""
    return find_root(Path.cwd())


def config() -> Config:
    """The user's config (defaults when absent)."""
    return load_config()
