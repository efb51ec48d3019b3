"""rulesync's own folders are the ones platformdirs names, whichever XDG_* and HOME are set."""

from __future__ import annotations

import itertools
from pathlib import Path

import platformdirs
import pytest

from rulesync.paths import cache_dir, config_dir, log_dir, state_dir
from support.env import entries, isolated_env, rulesync_user_paths
from support.repos import rulesync

XDG_VALUES = (None, "", "relative/folder", "/abs/folder", "/abs/folder/", "//double")
HOME_VALUES = (None, "", "/home/someone", "/home/someone/", "/", "relative-home")


@pytest.mark.parametrize(("xdg", "home"), list(itertools.product(XDG_VALUES, HOME_VALUES)))
def test_config_state_log_and_cache_folders_are_the_ones_platformdirs_names(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None, home: str | None
) -> None:
    for name, value in (
        ("XDG_CONFIG_HOME", xdg),
        ("XDG_STATE_HOME", xdg),
        ("XDG_CACHE_HOME", xdg),
        ("HOME", home),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert config_dir() == Path(platformdirs.user_config_dir("rulesync"))
    assert state_dir() == Path(platformdirs.user_state_dir("rulesync"))
    assert log_dir() == Path(platformdirs.user_log_dir("rulesync"))
    assert cache_dir() == Path(platformdirs.user_cache_dir("rulesync"))


def test_the_real_home_guard_sees_what_rulesync_writes_for_a_user_without_xdg_variables(
    tmp_path: Path, project: Path
) -> None:
    # The guard in conftest.py watches these paths for the real user; here a second user
    # with only HOME set (as a test that lost its isolation would run) shows it sees a write.
    home = tmp_path / "someone"
    home.mkdir()
    env = {k: v for k, v in isolated_env(home).items() if not k.startswith("XDG_")}
    watched = rulesync_user_paths(home, env)
    before = entries(watched)
    rulesync(project, "projects", "add", str(project), check=0, env=env)
    after = entries(watched)
    assert str(home / ".config" / "rulesync" / "projects.yaml") in set(after) - set(before)
