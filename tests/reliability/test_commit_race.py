"""The user commits while rulesync commits a phase change (SPEC §3 item 9).

A user's `git commit` takes the whole index. If rulesync put its paths in the user's index
and then failed to move HEAD (the user committed first), or the user's commit started
between rulesync's index update and its HEAD move, the user's commit carried rulesync's
rules, manifest and marker under the user's name, and the phase change never reached
`rulesync log`. Here a user commits a file of their own in a loop, for real, while the
marker flips phase; every flip is applied until it succeeds.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from support.repos import git, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import MANIFEST_REL as MANIFEST
from tests.reliability.harness import MARKER

USER_COMMITS = 300
FLIPS = 40
MANAGED = (".cursor/", MARKER, MANIFEST)


def _git_rc(cwd: Path, *args: str) -> int:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False).returncode


class User:
    """Commits `user.txt` again and again, retrying when another git holds a lock."""

    def __init__(self, repo: Path, flips_done: threading.Event) -> None:
        self.repo = repo
        self.flips_done = flips_done
        self.commits = 0
        self.retries = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while self.commits < USER_COMMITS or not self.flips_done.is_set():
            (self.repo / "user.txt").write_text(f"user edit {self.commits}\n")
            while _git_rc(self.repo, "add", "user.txt") != 0:
                self.retries += 1
            while _git_rc(self.repo, "commit", "-q", "-m", f"user {self.commits}") != 0:
                self.retries += 1
            self.commits += 1
            # A person does not commit back to back: a pause lets rulesync's runs through
            # (the race stays on: each commit still lands while rulesync runs).
            time.sleep(0.02)


@pytest.mark.slow
def test_user_commits_racing_phase_flips_never_carry_rulesyncs_files(
    project: Path, figures: Figures
) -> None:
    rulesync(project, "apply", check=0)
    start = git(project, "rev-parse", "HEAD").strip()
    flips_done = threading.Event()
    user = User(project, flips_done)
    user.thread.start()
    phases = []
    retried = 0
    try:
        for flip in range(FLIPS):
            phase = "advanced" if flip % 2 == 0 else "basic"
            phases.append(phase)
            (project / MARKER).write_text(f"phase: {phase}\n")
            for _ in range(500):
                # Deferred (the user's git holds index.lock) or HEAD moved first: exit 1.
                if rulesync(project, "apply").returncode == 0:
                    break
                retried += 1
            else:
                pytest.fail(f"flip {flip} to {phase} never committed")
    finally:
        flips_done.set()
        user.thread.join(timeout=120)
    assert not user.thread.is_alive()

    carried = []
    for line in git(project, "log", "--format=%H %an", f"{start}..HEAD").splitlines():
        sha, author = line.split(" ", 1)
        if author == "rulesync":
            continue
        files = git(project, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).split()
        carried += [f"{sha[:10]}: {f}" for f in files if f.startswith(MANAGED)]
    assert carried == [], "user commits carried rulesync's paths"

    trailers = git(
        project,
        "log",
        "--author=rulesync",
        "--format=%(trailers:key=Rulesync-Phase,valueonly)",
        f"{start}..HEAD",
    ).split()
    assert trailers[::-1] == phases
    shown = rulesync(project, "log", check=0).stdout
    for transition in ("phase basic → advanced", "phase advanced → basic"):
        assert shown.count(transition) == FLIPS // 2, shown
    assert git(project, "status", "--porcelain", "--", ".cursor", MARKER, MANIFEST) == ""
    rulesync(project, "check", check=0)
    assert user.commits >= USER_COMMITS
    figures.add(
        "Concurrency",
        f"{user.commits} user commits racing {FLIPS} phase changes",
        trials=FLIPS,
        failures=0,
        detail=(
            "no user commit holds a rule, the manifest or the marker; every phase change is "
            "in `rulesync log`"
        ),
        counts={"rulesync runs retried": retried, "user git commands retried": user.retries},
    )
