"""Races with the user's editor: the marker saved again while rulesync is writing the rules.

The service's storms found this (test_service.py): a sync planned from `phase: advanced`,
the user saved `phase: basic` while the rules were being written, and the commit held the
advanced rules with the basic marker. When the user then saved `advanced` again, nothing
was left to write, so the working tree kept a marker HEAD did not have, and `rulesync check`
failed on HEAD in CI.

To hit that moment every time, the user's save runs right after rulesync's real file writes
(a real write of the real marker, through a seam around `rulesync.sync.execute`); git and the
file system are real.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rulesync.sync
from rulesync.config import load_config
from rulesync.sync import sync
from support.repos import git
from support.repos import rulesync as run_rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import MARKER, HistoryAudit


def save_marker_during_writes(
    monkeypatch: pytest.MonkeyPatch, project: Path, text: str
) -> Callable[[], None]:
    """The user saves `text` to the marker once, just after rulesync has written the rules."""
    real = rulesync.sync.execute
    saved = []

    def execute_then_user_saves(*args: Any, **kwargs: Any) -> Any:
        backups = real(*args, **kwargs)
        if not saved:
            (project / MARKER).write_text(text)
            saved.append(text)
        return backups

    monkeypatch.setattr(rulesync.sync, "execute", execute_then_user_saves)
    # Only the step goes back: undo() would also undo the isolated user's environment.
    return lambda: monkeypatch.setattr(rulesync.sync, "execute", real)


def test_a_marker_saved_during_the_writes_is_not_committed_with_the_wrong_rules(
    project: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    audit = HistoryAudit(project)
    sync(project, load_config())
    (project / MARKER).write_text("phase: advanced\n")
    stop = save_marker_during_writes(monkeypatch, project, "phase: basic\n")
    sync(project, load_config())
    stop()
    assert audit.problems() == []
    sync(project, load_config())  # the save's own event: the next sync
    assert audit.problems() == []
    run_rulesync(project, "check", check=0)
    assert git(project, "status", "--porcelain") == ""
    figures.add(
        "Concurrency",
        "the user saves another phase while rulesync writes the rules",
        trials=1,
        failures=0,
        detail="deterministic; the commit waits for the marker it was planned from",
    )


def test_a_marker_saved_back_during_the_writes_ends_committed_and_consistent(
    project: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    audit = HistoryAudit(project)
    sync(project, load_config())
    (project / MARKER).write_text("phase: advanced\n")
    stop = save_marker_during_writes(monkeypatch, project, "phase: basic\n")
    sync(project, load_config())
    stop()
    (project / MARKER).write_text("phase: advanced\n")  # the user settles on advanced after all
    sync(project, load_config())
    assert audit.problems() == []
    run_rulesync(project, "check", check=0)
    assert git(project, "status", "--porcelain") == "", "the final marker was never committed"
    assert git(project, "show", f"HEAD:{MARKER}") == "phase: advanced\n"
    figures.add(
        "Concurrency",
        "…and then saves the first phase back (nothing left to write)",
        trials=1,
        failures=0,
        detail="deterministic; the marker is still committed, HEAD consistent",
    )
