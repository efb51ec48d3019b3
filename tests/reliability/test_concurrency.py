"""Concurrency: several `rulesync apply` processes on one project at once (the service joins
them in test_service.py). The project lock serialises them, so each round ends in one
consistent result: `.cursor/rules` is exactly one tier, every phase change is one commit
(never two for the same change), and a process that cannot get the lock in time says so in
one line, never with a traceback.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from rulesync.config import load_config
from rulesync.sync import inspect
from support.repos import git, make_repo, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import (
    MARKER,
    RULES_REL,
    TIERS,
    HistoryAudit,
    TrialLog,
    UserWork,
    chosen_seeds,
    converged,
    error_line_problems,
    head,
    leftover_temporaries,
    make_tiered_library,
    start_rulesync,
    write_user_config,
)

pytestmark = pytest.mark.slow

PROCESSES = 4
HEALED = "commits holding a marker saved during their own commit, healed by the next sync"


def set_phase(repo: Path, phase: str) -> None:
    # Saved by rename, as editors do: a truncate-then-write save can be read half-way by an
    # apply that starts in between, which then (rightly) exits 2 on the empty marker.
    tmp = repo / f".{MARKER}.tmp"
    tmp.write_text(f"phase: {phase}\n")
    os.replace(tmp, repo / MARKER)


def current_phase(repo: Path) -> str:
    return (repo / MARKER).read_text().split(":", 1)[1].strip()


def round_problems(
    repo: Path, seed: int, audit: HistoryAudit, user: UserWork, *, lock_wait: bool
) -> list[str]:
    rng = random.Random(seed)
    before, start = head(repo), current_phase(repo)
    phases = [rng.choice([t for t in TIERS if t != start])]
    set_phase(repo, phases[0])
    change_midway = rng.random() < 0.3
    procs = []
    for _ in range(PROCESSES):
        procs.append(start_rulesync(repo, "apply"))
        time.sleep(rng.uniform(0, 0.03))
    if change_midway:
        time.sleep(rng.uniform(0, 0.2))
        phases.append(rng.choice([t for t in TIERS if t != phases[0]]))
        set_phase(repo, phases[1])
    problems = []
    codes = []
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        codes.append(proc.returncode)
        if "Traceback" in err:
            problems.append(f"a traceback reached the user: {err[-300:]!r}")
        if proc.returncode == 1 and not lock_wait:
            problems += error_line_problems(err, "is syncing it (lock")
        elif proc.returncode != 0:
            problems.append(f"apply exited {proc.returncode}: {err.strip()!r}")
    if 0 not in codes:
        problems.append(f"no process synced the project: exit codes {codes}")
    if change_midway:
        rulesync(repo, "apply", check=0)  # the last change may have come after every run
    _, plan = inspect(repo, load_config())
    if not plan.in_sync or not converged(repo, allowed=[f"?? {RULES_REL}/mine.mdc"]):
        problems.append(f"not one consistent result: {plan.counts()}")
    subjects = git(repo, "log", "--format=%an|%s", f"{before}..HEAD").splitlines()
    if not all(s.startswith("rulesync|rulesync: phase ") for s in subjects):
        problems.append(f"unexpected commits {subjects}")
    at_least = 0 if phases[-1] == start else 1  # a change and its undo may cancel out
    if not at_least <= len(subjects) <= len(phases):
        problems.append(f"{len(subjects)} commits for {len(phases)} phase change(s): {subjects}")
    if leftover_temporaries(repo):
        problems.append(f"temporary files left: {leftover_temporaries(repo)}")
    problems += user.problems()
    mismatches = len(audit.marker_mismatches)
    problems += audit.problems()
    if not change_midway and len(audit.marker_mismatches) > mismatches:
        problems += audit.marker_mismatches[mismatches:]  # no save raced these commits
    return problems


def run_rounds(tmp_path: Path, seeds: range, *, lock_wait: bool) -> TrialLog:
    lib = make_tiered_library(tmp_path / "library").root
    if lock_wait:
        write_user_config(lib)
    else:
        write_user_config(lib, lock_timeout=0)
    repo = make_repo(tmp_path / "project")
    user = UserWork.create(repo)
    set_phase(repo, "basic")
    rulesync(repo, "apply", check=0)
    audit = HistoryAudit(repo, user.paths)
    name = "waiting for the lock (default)" if lock_wait else "with `lock_timeout: 0`"
    log = TrialLog("Concurrency", f"{PROCESSES} `rulesync apply` at once, {name}")
    for seed in chosen_seeds(seeds):
        log.run(
            seed, lambda seed=seed: round_problems(repo, seed, audit, user, lock_wait=lock_wait)
        )
    log.count("rulesync commits audited", audit.rulesync_commits)
    log.count(HEALED, len(audit.marker_mismatches))
    return log


def test_concurrent_applies_give_one_result_and_one_commit_per_change(
    tmp_path: Path, figures: Figures
) -> None:
    log = run_rounds(tmp_path, range(5000, 5025), lock_wait=True)
    figures.finish(log, "30 % of rounds change the phase again while they run")


def test_concurrent_applies_that_cannot_wait_say_so_in_one_line(
    tmp_path: Path, figures: Figures
) -> None:
    log = run_rounds(tmp_path, range(5100, 5120), lock_wait=False)
    figures.finish(log, "the losers exit 1: `<who> (pid N) is syncing it`")
