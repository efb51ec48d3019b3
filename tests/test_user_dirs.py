"""rulesync's own folders are the ones platformdirs names, whichever XDG_* and HOME are set."""

from __future__ import annotations

import itertools
from pathlib import Path

import platformdirs
import pytest

from rulesync.config import cache_dir, config_dir, log_dir, state_dir

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
