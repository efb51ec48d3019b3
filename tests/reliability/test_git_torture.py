"""Git torture: phase changes interleaved with the user's own git work, in seeded random walks.

The user commits, stages, switches branches, stashes, leaves an interactive rebase stopped
and a conflicting merge in progress, detaches HEAD, and has a real `git commit` holding
`index.lock` (waiting in its editor). After every step `rulesync apply` runs and:

- while the repository is busy it defers: exit 1, one line, and nothing changes — not HEAD,
  not a file, not the index, and the lock is never deleted (no commit inside a rebase);
- otherwise it converges, its commit holds only the marker, the manifest and managed rules,
  and the user's staged work stays staged and out of it;
- the whole history passes the audit (harness.HistoryAudit).

At the end of each walk the user finishes or aborts whatever is in progress, and the project
converges: `rulesync apply`, then `rulesync check` exits 0.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rulesync.config import load_config
from rulesync.sync import UNCOMMITTED_FLAG, inspect
from support.env import snapshot
from support.repos import git, make_repo, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import (
    MARKER,
    TIERS,
    HistoryAudit,
    TrialLog,
    chosen_seeds,
    error_line_problems,
    head,
    make_tiered_library,
    write_user_config,
)

pytestmark = pytest.mark.slow

EDITOR = """#!/bin/sh
# A user's editor, still open: git holds index.lock until it returns.
while [ ! -e "$RULESYNC_TEST_RELEASE" ]; do sleep 0.01; done
: > "$1"
"""


@dataclass
class Walk:
    """One repository and what the user has left in progress in it."""

    repo: Path
    tools: Path
    rng: random.Random
    audit: HistoryAudit
    busy: str | None = None
    branch: str = "main"
    counter: int = 0
    holder: subprocess.Popen[bytes] | None = None
    ops: dict[str, int] = field(default_factory=dict)

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.repo, *args, check=check)

    def user_edit(self, name: str) -> str:
        self.counter += 1
        path = self.repo / "src" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"edit {self.counter}\n")
        return f"src/{name}"

    def commit_user_work(self) -> None:
        """The user commits what they have staged (never with -a: that is their choice)."""
        if self.git("diff", "--cached", "--name-only").strip():
            self.git("commit", "-q", "-m", f"user work {self.counter}")

    def clean_for_history_rewrite(self) -> bool:
        """A rebase or merge needs a clean tree: the user commits or stashes first."""
        self.commit_user_work()
        dirty = self.git("status", "--porcelain", "--untracked-files=no").strip()
        if dirty:
            self.git("stash", "push", "-q")
        return True

    # --- the user's operations --------------------------------------------------------

    def op_phase(self) -> None:
        text = (self.repo / MARKER).read_text()
        current = text.split("phase:", 1)[1].split()[0] if "phase:" in text else ""
        phase = self.rng.choice([t for t in TIERS if t != current])
        (self.repo / MARKER).write_text(f"phase: {phase}\n")

    def op_commit(self) -> None:
        self.git("add", self.user_edit("app.py"))
        self.commit_user_work()

    def op_stage(self) -> None:
        self.git("add", self.user_edit(f"staged{self.counter % 3}.py"))
        self.user_edit("unstaged.py")

    def op_switch(self) -> None:
        target = "feature" if self.branch == "main" else "main"
        exists = bool(self.git("branch", "--list", target).strip())
        args = ["checkout", "-q", target] if exists else ["checkout", "-q", "-b", target]
        self.git(*args, check=False)  # git refuses when it would overwrite local changes
        if self.current_branch() == target:
            self.branch = target

    def op_stash(self) -> None:
        if self.stashed and self.rng.random() < 0.5:
            self.git("stash", "pop", "-q", check=False)
            conflicted = self.git("diff", "--name-only", "--diff-filter=U").split()
            if conflicted:  # the user resolves in favour of the stash, then drops it
                self.git("checkout", "-q", "--theirs", "--", *conflicted)
                self.git("add", "--", *conflicted)
                self.git("stash", "drop", "-q")
            return
        if self.git("status", "--porcelain", "--untracked-files=no").strip():
            self.git("stash", "push", "-q")

    def op_rebase(self) -> None:
        self.clean_for_history_rewrite()
        for name in ("one", "two"):
            self.git("add", self.user_edit(f"rebase-{name}.py"))
            self.git("commit", "-q", "-m", f"rebase me {name}")
        env = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i -e 's/^pick/edit/'"}
        subprocess.run(
            ["git", "rebase", "-i", "HEAD~2"], cwd=self.repo, env=env, capture_output=True
        )
        assert (self.repo / ".git" / "rebase-merge").is_dir(), "the rebase did not stop"
        self.busy = "rebase"

    def op_merge(self) -> None:
        self.clean_for_history_rewrite()
        side = f"side-{self.counter}"
        self.git("checkout", "-q", "-b", side)
        self.git("add", self.user_edit("conflict.txt"))
        self.git("commit", "-q", "-m", "side")
        self.git("checkout", "-q", self.branch)
        self.git("add", self.user_edit("conflict.txt"))
        self.git("commit", "-q", "-m", "ours")
        self.git("merge", side, check=False)
        assert (self.repo / ".git" / "MERGE_HEAD").exists(), "the merge did not stop"
        self.busy = "merge"

    def op_detach(self) -> None:
        self.git("checkout", "-q", "--detach")
        self.busy = "detached"

    def op_lock(self) -> None:
        release = self.tools / "release"
        release.unlink(missing_ok=True)
        env = {
            **os.environ,
            "GIT_EDITOR": str(self.tools / "editor.sh"),
            "RULESYNC_TEST_RELEASE": str(release),
        }
        self.holder = subprocess.Popen(
            ["git", "commit", "-a", "--allow-empty"],
            cwd=self.repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        lock = self.repo / ".git" / "index.lock"
        deadline = time.monotonic() + 10
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert lock.exists(), "git commit did not take index.lock"
        self.busy = "index.lock"

    def finish(self) -> None:
        """The user finishes or aborts what is in progress."""
        if self.busy == "rebase":
            if self.rng.random() < 0.5:
                self.git("rebase", "--abort")
            else:
                stashed = bool(self.git("status", "--porcelain", "--untracked-files=no").strip())
                if stashed:
                    self.git("stash", "push", "-q")
                while (self.repo / ".git" / "rebase-merge").exists():
                    self.git("rebase", "--continue")
                if stashed:
                    self.git("stash", "pop", "-q")
        elif self.busy == "merge":
            if self.rng.random() < 0.5:
                self.git("merge", "--abort")
            else:
                self.git("add", self.user_edit("conflict.txt"))
                self.git("commit", "-q", "--no-edit")
        elif self.busy == "detached":
            self.git("checkout", "-q", self.branch)
        elif self.busy == "index.lock" and self.holder is not None:
            (self.tools / "release").touch()
            self.holder.wait(timeout=20)
            self.holder = None
        self.busy = None

    @property
    def stashed(self) -> int:
        return len(self.git("stash", "list").splitlines())

    def current_branch(self) -> str:
        return self.git("rev-parse", "--abbrev-ref", "HEAD").strip()

    def git_says_busy(self) -> str | None:
        """The repository's state as git itself shows it."""
        dot = self.repo / ".git"
        if (dot / "index.lock").exists():
            return "index.lock"
        if (dot / "rebase-merge").exists() or (dot / "rebase-apply").exists():
            return "rebase"
        if (dot / "MERGE_HEAD").exists():
            return "merge"
        if self.current_branch() == "HEAD":
            return "detached"
        return None


OPS_IDLE = ("phase", "phase", "commit", "stage", "switch", "stash", "rebase", "merge", "detach")
OPS_IDLE += ("lock",)


def index_state(walk: Walk) -> str:
    return walk.git("ls-files", "-s") + walk.git("diff", "--cached", "--name-status")


def apply_and_check(walk: Walk, step: str, log: TrialLog) -> list[str]:
    """Run `rulesync apply` and check the invariants for the repository's current state."""
    repo = walk.repo
    busy = walk.git_says_busy()
    if busy != walk.busy:
        return [f"{step}: the walk expected {walk.busy}, git shows {busy}"]
    problems: list[str] = []
    before_head, before_tree = head(repo), snapshot(repo)
    before_index = index_state(walk) if busy != "index.lock" else ""
    staged = set(walk.git("diff", "--cached", "--name-only").split())
    _, plan = inspect(repo, load_config())
    has_work = not plan.in_sync or (repo / ".git" / UNCOMMITTED_FLAG).exists()
    proc = rulesync(repo, "apply")
    if busy:
        log.count(f"deferred while {busy}" if has_work else f"in sync while {busy}")
    if busy and not has_work:
        if proc.returncode != 0:
            problems.append(f"{step}: apply exited {proc.returncode} while {busy}, in sync")
    elif busy:
        if proc.returncode != 1:
            problems.append(f"{step}: apply exited {proc.returncode} while {busy}")
        problems += [f"{step}: {p}" for p in error_line_problems(proc.stderr, "deferred")]
    if busy:
        if head(repo) != before_head:
            problems.append(f"{step}: rulesync committed while {busy} (inside the user's work)")
        if snapshot(repo) != before_tree:
            problems.append(f"{step}: files changed while {busy}")
        if busy != "index.lock" and index_state(walk) != before_index:
            problems.append(f"{step}: the index changed while {busy}")
        if busy == "index.lock" and not (repo / ".git" / "index.lock").exists():
            problems.append(f"{step}: index.lock was deleted")
    else:
        if proc.returncode != 0:
            problems.append(f"{step}: apply exited {proc.returncode}: {proc.stderr.strip()!r}")
        _, plan = inspect(repo, load_config())
        if not plan.in_sync:
            problems.append(f"{step}: not converged: {plan.counts()}")
        still = set(walk.git("diff", "--cached", "--name-only").split())
        if not {p for p in staged if p.startswith("src/")} <= still:
            problems.append(f"{step}: the user's staged work was unstaged or committed")
        status = walk.git("status", "--porcelain", "--", ".cursor", MARKER).strip()
        if status:
            problems.append(f"{step}: rulesync left its changes uncommitted: {status!r}")
        for rel, data in snapshot(repo).items():
            if rel.startswith(("src/",)) and before_tree.get(rel) != data:
                problems.append(f"{step}: rulesync changed the user's {rel}")
    problems += [f"{step}: {p}" for p in walk.audit.problems()]
    return problems


def torture_walk(
    tmp_path: Path, seed: int, count: int, log: TrialLog, steps: dict[str, int]
) -> list[str]:
    rng = random.Random(seed)
    repo = make_repo(tmp_path / f"walk-{seed}")
    tools = tmp_path / f"tools-{seed}"
    tools.mkdir()
    (tools / "editor.sh").write_text(EDITOR)
    (tools / "editor.sh").chmod(0o755)
    (repo / MARKER).write_text(f"phase: {rng.choice(TIERS)}\n")
    walk = Walk(repo, tools, rng, HistoryAudit(repo))
    problems = apply_and_check(walk, "start", log)
    try:
        for number in range(count):
            if walk.busy is None:
                op = rng.choice(OPS_IDLE)
            else:
                busy_ops = ("phase",) if walk.busy == "index.lock" else ("phase", "stage")
                op = "finish" if rng.random() < 0.5 else rng.choice(busy_ops)
            getattr(walk, f"op_{op}" if op != "finish" else "finish")()
            steps[op] = steps.get(op, 0) + 1
            if op in ("rebase", "merge", "detach", "lock") and rng.random() < 0.7:
                walk.op_phase()  # and the user changes the phase meanwhile
            problems += apply_and_check(walk, f"step {number} ({op})", log)
            if problems:
                break
        walk.finish()
        if walk.current_branch() == "HEAD":
            walk.git("checkout", "-q", walk.branch)
        proc = rulesync(repo, "apply")
        if proc.returncode != 0:
            problems.append(f"clean repository: apply exited {proc.returncode}: {proc.stderr!r}")
        check = rulesync(repo, "check")
        if check.returncode != 0:
            problems.append(f"clean repository: check exited {check.returncode}: {check.stdout!r}")
        problems += walk.audit.problems()
        log.count("rulesync commits audited", walk.audit.rulesync_commits)
    finally:
        if walk.holder is not None:
            (tools / "release").touch()
            walk.holder.wait(timeout=20)
    return problems


def test_git_torture_never_commits_into_user_work_and_converges_once_clean(
    tmp_path: Path, figures: Figures
) -> None:
    lib = make_tiered_library(tmp_path / "library").root
    write_user_config(lib)
    log = TrialLog("Git torture", "random walks of 12 user git steps, `rulesync apply` after each")
    steps: dict[str, int] = {}
    for seed in chosen_seeds(range(4000, 4012)):
        log.run(seed, lambda seed=seed: torture_walk(tmp_path, seed, 12, log, steps))
    deferred = {k.removeprefix("deferred while ") for k in log.counts if k.startswith("deferred")}
    done = ", ".join(f"{op} {n}" for op, n in sorted(steps.items(), key=lambda kv: -kv[1]))
    figures.finish(log, f"{sum(steps.values())} user steps ({done})")
    if not os.environ.get("RULESYNC_RELIABILITY_SEEDS"):
        assert deferred == {"rebase", "merge", "detached", "index.lock"}, log.counts


def test_a_ref_lock_left_by_a_killed_git_is_named_never_deleted_then_converges(
    tmp_path: Path, figures: Figures
) -> None:
    """git killed while it moved the branch leaves `refs/heads/main.lock`; git's own message
    says to remove it. rulesync names the file, never deletes it, and converges after."""
    lib = make_tiered_library(tmp_path / "library").root
    write_user_config(lib)
    repo = make_repo(tmp_path / "project")
    (repo / MARKER).write_text("phase: basic\n")
    lock = repo / ".git" / "refs" / "heads" / "main.lock"
    lock.touch()
    proc = rulesync(repo, "apply")
    assert proc.returncode == 1
    assert error_line_problems(proc.stderr, "deferred", str(lock)) == []
    assert lock.exists()
    assert not (repo / ".cursor").exists()  # deferred before anything was written
    lock.unlink()
    rulesync(repo, "apply", check=0)
    rulesync(repo, "check", check=0)
    assert HistoryAudit(repo).problems() == []
    assert walk_status_is_clean(repo)
    figures.add(
        "Git torture",
        "`refs/heads/main.lock` left by a killed git",
        trials=1,
        failures=0,
        detail="apply defers (exit 1) naming the lock, writes nothing, never deletes it; "
        "converges once it is removed",
    )


def walk_status_is_clean(repo: Path) -> bool:
    return git(repo, "status", "--porcelain", "--", ".cursor", MARKER) == ""
