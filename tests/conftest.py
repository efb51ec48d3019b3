"""Shared fixtures: an isolated user (XDG_* and HOME in temporary folders), real git
repositories, a small rules library, and the real `rulesync` command as a subprocess."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.daemon import Daemon
from support.env import USER_UNSET, entries, rulesync_user_paths, user_env
from support.repos import CORPUS, git, make_library, make_repo

# Read once, before any test changes the environment.
REAL_USER_PATHS = rulesync_user_paths(Path(os.path.expanduser("~")), dict(os.environ))


@pytest.fixture(autouse=True)
def real_user_untouched() -> Iterator[None]:
    """Fails the test that wrote anything rulesync writes under the real user's HOME."""
    before = entries(REAL_USER_PATHS)
    yield
    after = entries(REAL_USER_PATHS)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, f"the test wrote under the real user's HOME: {changed[:5]}"


@pytest.fixture(autouse=True)
def isolated_user(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test runs as a fresh user: nothing touches the real config, state or git identity."""
    home = tmp_path_factory.mktemp("home")
    for name, value in user_env(home).items():
        monkeypatch.setenv(name, value)
    for name in USER_UNSET:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def library(tmp_path: Path, isolated_user: Path) -> Path:
    """A small library set as the user's default library in config.yaml."""
    lib = make_library(tmp_path / "library")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.yaml").write_text(f"library: {lib}\n")
    return lib


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with a user identity and one commit."""
    return make_repo(tmp_path / "project")


@pytest.fixture
def project(repo: Path, library: Path) -> Path:
    """A git repository with a `phase: basic` marker (not yet applied), using the small library."""
    (repo / ".rulesync.yaml").write_text("phase: basic\n")
    git(repo, "add", ".rulesync.yaml")
    git(repo, "commit", "-q", "-m", "add marker")
    return repo


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real rule files (skipped with a clear message where absent)."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def daemon(tmp_path: Path, isolated_user: Path) -> Iterator[Daemon]:
    """The real service for this test's isolated user (the test starts it), always stopped
    after."""
    service = Daemon(tmp_path)
    try:
        yield service
    finally:
        service.stop()
