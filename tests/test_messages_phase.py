"""`rulesync phase NEW` never edits the marker where the edit would be deferred and then lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.repos import git, rulesync


def _start_a_conflicting_rebase(project: Path) -> None:
    """A rebase stopped at a conflict, as a user leaves it to resolve later."""
    git(project, "checkout", "-q", "-b", "side")
    (project / "README.md").write_text("side\n")
    git(project, "commit", "-qam", "side")
    git(project, "checkout", "-q", "main")
    (project / "README.md").write_text("main\n")
    git(project, "commit", "-qam", "main")
    git(project, "checkout", "-q", "side")
    git(project, "rebase", "main", check=False)
    assert (project / ".git" / "rebase-merge").is_dir()


@pytest.mark.parametrize("no_apply", [False, True])
def test_phase_during_a_rebase_changes_nothing_and_says_so(project: Path, no_apply: bool) -> None:
    _start_a_conflicting_rebase(project)
    marker = (project / ".rulesync.yaml").read_bytes()
    argv = ["phase", "advanced", *(["--no-apply"] if no_apply else [])]
    proc = rulesync(project, *argv, check=1)
    assert proc.stderr == (
        "rulesync: rulesync phase advanced: a rebase is in progress (finish or abort it); the "
        "phase was not changed: set it once that is done (an edit made now would be lost if "
        "it is aborted)\n"
    )
    assert "nothing was changed" not in proc.stdout + proc.stderr.replace("not changed", "")
    assert (project / ".rulesync.yaml").read_bytes() == marker
    git(project, "rebase", "--abort")
    rulesync(project, "phase", "advanced", check=0)
    assert (project / ".rulesync.yaml").read_text() == "phase: advanced\n"


def test_phase_on_a_detached_head_is_refused_before_the_marker_is_touched(project: Path) -> None:
    git(project, "checkout", "-q", "--detach")
    proc = rulesync(project, "phase", "advanced", check=1)
    assert "HEAD is detached (check out a branch); the phase was not changed" in proc.stderr
    assert (project / ".rulesync.yaml").read_text() == "phase: basic\n"
