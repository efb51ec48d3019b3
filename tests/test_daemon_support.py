"""Support for the service's tests (no tests here): the helpers live in `support.service`, so
that the service benchmark drives the same `Daemon`; test files import them from here."""

from __future__ import annotations

from support.repos import rulesync_commits as commits
from support.service import (
    DEADLINE,
    Daemon,
    add_config,
    config_file,
    manifest_tier,
    new_project,
    set_phase,
    wait_commits,
    wait_for,
)

__all__ = [
    "DEADLINE",
    "Daemon",
    "add_config",
    "commits",
    "config_file",
    "manifest_tier",
    "new_project",
    "set_phase",
    "wait_commits",
    "wait_for",
]
