"""Crash consistency: `rulesync apply` killed with SIGKILL at random points of a phase change.

Each trial is seeded: the seed picks the phase the project starts in, the phase the user
moves it to, whether the user has edited or deleted a managed rule meanwhile, and the kill
delay, drawn uniformly between 0 and the measured length of an uninterrupted run. After the
kill (and after the killed run's git child, if any, has finished on its own):

- every file of the user's is intact and in the git state they left it in;
- every rule file on disk is whole: one of the library's versions, never a mix;
- no commit holds a user's file or a half-written manifest;
- the next `rulesync apply` converges: `.cursor/rules` is exactly the tier, no temporary file
  is left anywhere, and the phase change is recorded by exactly one rulesync commit.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rulesync.config import load_config
from rulesync.manifest import MANIFEST
from rulesync.sync import inspect, sync
from support.repos import git, make_corpus_library, make_repo, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import (
    MARKER,
    RULES,
    RULES_REL,
    HistoryAudit,
    TrialLog,
    UserWork,
    chosen_seeds,
    drain_group,
    error_line_problems,
    head,
    kill_stage,
    leftover_temporaries,
    library_versions,
    make_tiered_library,
    rule_files,
    start_rulesync,
    write_user_config,
)

pytestmark = pytest.mark.slow

EDITED = b"---\ndescription: tuned by the user\n---\nthe user's edit of a managed rule\n"


@dataclass
class CrashBench:
    """One project, its library and its user, reused trial after trial."""

    project: Path
    lib: Path
    tiers: tuple[str, ...]
    versions: dict[str, frozenset[bytes]]
    user: UserWork
    audit: HistoryAudit
    run_seconds: float = 0.0
    noop_seconds: float = 0.0
    writes: tuple[float, float] = (0.0, 0.0)

    def set_phase(self, phase: str) -> None:
        (self.project / MARKER).write_text(f"# the team's phase\nphase: {phase}\n")

    def converge(self, phase: str) -> None:
        """Bring the project to `phase` in-process (the trial's starting state)."""
        self.set_phase(phase)
        result = sync(self.project, load_config())
        assert not result.plan.conflicts, result.plan.conflicts

    def timed_apply(self, *, watch: bool = False) -> tuple[float, float | None, float | None]:
        """Run `rulesync apply` to the end: its length and, with `watch`, when the `pending`
        manifest (the rule writes) was first and last seen."""
        manifest = self.project / ".rulesync-manifest.json"
        first = last = None
        started = time.perf_counter()
        proc = start_rulesync(self.project, "apply", output=False)
        while watch and proc.poll() is None:
            try:
                pending = b'"pending"' in manifest.read_bytes()
            except OSError:
                pending = False
            if pending:
                last = time.perf_counter() - started
                first = last if first is None else first
            time.sleep(0.0002)
        proc.wait()
        assert proc.returncode == 0
        return time.perf_counter() - started, first, last

    def phase_change(self, index: int, *, watch: bool = False) -> tuple[float, ...]:
        self.converge(self.tiers[index % 2])
        self.set_phase(self.tiers[(index + 1) % 2])
        return tuple(x for x in self.timed_apply(watch=watch) if x is not None)

    def calibrate(self, runs: int = 3) -> float:
        """Measure uninterrupted runs: a full phase change, a no-op, and (watched apart, so
        the watching does not slow the others) when the rule writes happen."""
        self.run_seconds = statistics.median(self.phase_change(i)[0] for i in range(runs))
        self.noop_seconds = min(
            statistics.median(self.timed_apply()[0] for _ in range(runs)), self.run_seconds
        )
        windows = [w[1:] for w in (self.phase_change(i, watch=True) for i in range(2))]
        seen = [w for w in windows if len(w) == 2]
        if seen:
            self.writes = (min(w[0] for w in seen), max(w[1] for w in seen))
        return self.run_seconds

    def kill_delay(self, rng: random.Random) -> float:
        """A third of the trials: uniform over the whole run. A third: from the end of a no-op
        run (start-up, loading, planning done) to the end of a full one (writes and commit).
        A third: within the window where the manifest was seen `pending` (the rule writes)."""
        mode = rng.randrange(3)
        if mode == 0 or (mode == 2 and self.writes == (0.0, 0.0)):
            return rng.uniform(0.0, self.run_seconds)
        if mode == 1:
            return rng.uniform(self.noop_seconds, self.run_seconds)
        return rng.uniform(*self.writes)

    def describe(self) -> str:
        ms = [round(x * 1000) for x in (self.run_seconds, self.noop_seconds, *self.writes)]
        return (
            f"kill delay uniform, a third each in [0, {ms[0]} ms] (a full run), "
            f"[{ms[1]}, {ms[0]} ms] (no-op run → full run), [{ms[2]}, {ms[3]} ms] (rule writes)"
        )


def make_bench(tmp_path: Path, lib: Path, tiers: tuple[str, ...]) -> CrashBench:
    project = make_repo(tmp_path / "project")
    user = UserWork.create(project)
    bench = CrashBench(
        project=project,
        lib=lib,
        tiers=tiers,
        versions=library_versions(lib),
        user=user,
        audit=HistoryAudit(project, user.paths),
    )
    bench.converge(tiers[0])
    return bench


def git_locks(project: Path) -> list[Path]:
    """Lock files a killed git left in the git dir (rulesync's own flock file is not one)."""
    return sorted(p for p in (project / ".git").rglob("*.lock") if p.name != "rulesync.lock")


def stage_after_kill(
    bench: CrashBench, finished: bool, head_before: str, disk_before: dict[str, bytes]
) -> str:
    """Where in the apply the kill landed."""
    if finished:
        return "run had finished"
    return kill_stage(bench.project, head_before, disk_before)


def crash_trial(
    bench: CrashBench, seed: int, log: TrialLog, *, kill_group: bool = False
) -> list[str]:
    rng = random.Random(seed)
    project = bench.project
    start, target = rng.sample(bench.tiers, 2)
    bench.converge(start)
    edited: str | None = None
    deleted: str | None = None
    managed = sorted(n for n in rule_files(project) if n != "mine.mdc")
    # The rules the target tier keeps (each tier extends the one before it).
    chain = bench.tiers[: bench.tiers.index(target) + 1]
    staying = {p.name for tier in chain for p in (bench.lib / tier).glob("*.mdc")}
    activity = rng.random()
    if activity < 0.15:
        # An edit of a rule the target tier keeps: a conflict no kill may lose (an edited rule
        # leaving the tier is handed back to the user instead, tested in test_adopt.py).
        edited = rng.choice([n for n in managed if n in staying])
        (project / RULES / edited).write_bytes(EDITED)
    elif activity < 0.30:
        deleted = rng.choice(managed)
        (project / RULES / deleted).unlink()
    bench.set_phase(target)
    delay = bench.kill_delay(rng)
    head_before, disk_before = head(project), rule_files(project)

    proc = start_rulesync(project, "apply", output=False)
    time.sleep(delay)
    finished = proc.poll() is not None
    if not finished:
        if kill_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGKILL)
    proc.communicate()
    drain_group(proc.pid)
    stage = stage_after_kill(bench, finished, head_before, disk_before)
    log.count(stage)

    problems = [f"[{stage}] {p}" for p in bench.user.problems()]
    for name, data in rule_files(project).items():
        if name == "mine.mdc" or (name == edited and data == EDITED):
            continue
        if data not in bench.versions.get(name, frozenset()):
            problems.append(f"[{stage}] {name} is torn: not one of the library's versions")
    if edited and (project / RULES / edited).read_bytes() != EDITED:
        problems.append(f"[{stage}] the user's edit of {edited} was overwritten")
    problems += [f"[{stage}] {p}" for p in bench.audit.problems()]

    recovery = rulesync(project, "apply")
    stale = git_locks(project) if kill_group and recovery.returncode == 1 else []
    if stale:
        # git itself was killed holding a lock. rulesync names it and never deletes it; the
        # user removes it as git's own message says, and the next sync converges.
        # git may leave several (index.lock and HEAD.lock); the error names the first it meets.
        problems += error_line_problems(recovery.stderr)
        if not any(lock.name in recovery.stderr for lock in stale):
            problems.append(f"the error names none of {[x.name for x in stale]}")
        for lock in stale:
            log.count(f"stale {lock.name} left by the killed git, removed by the user")
            lock.unlink()
        recovery = rulesync(project, "apply")
    wanted = 1 if edited else 0
    if recovery.returncode != wanted or "Traceback" in recovery.stderr:
        problems.append(
            f"[{stage}] the next apply exited {recovery.returncode}, wanted {wanted}: "
            f"{recovery.stderr[-300:]!r}"
        )
    _, plan = inspect(project, load_config())
    if plan.changes or plan.manifest_changed:
        problems.append(f"[{stage}] not converged: {plan.counts()}")
    conflicts = {a.path.removeprefix(f"{RULES_REL}/") for a in plan.conflicts}
    if conflicts != ({edited} if edited else set()):
        problems.append(f"[{stage}] conflicts {sorted(conflicts)}, wanted {edited}")
    if edited and (project / RULES / edited).read_bytes() != EDITED:
        problems.append(f"[{stage}] the user's edit of {edited} was lost by the next apply")
    leftovers = leftover_temporaries(project)
    if leftovers:
        problems.append(f"[{stage}] temporary files left: {leftovers}")
    status = git(project, "status", "--porcelain", "--", ".cursor", MARKER, MANIFEST).splitlines()
    expected = {f"?? {RULES_REL}/mine.mdc"} | ({f" M {RULES_REL}/{edited}"} if edited else set())
    if set(status) != expected:
        problems.append(f"[{stage}] rulesync's files are not all committed: {status}")
    problems += [f"[{stage}] {p}" for p in bench.user.problems()]
    problems += [f"[{stage}] {p}" for p in bench.audit.problems()]
    subjects = git(project, "log", "--format=%an|%s", f"{head_before}..HEAD").splitlines()
    wanted_subject = f"rulesync|rulesync: phase {start} → {target} "
    if len(subjects) != 1 or not subjects[0].startswith(wanted_subject):
        problems.append(f"[{stage}] the phase change made commits {subjects}, wanted exactly one")

    if edited:  # the user puts the managed version back; the next trial starts clean
        git(project, "checkout", "HEAD", "--", f"{RULES_REL}/{edited}")
    return problems


def test_sigkill_of_apply_at_random_points_never_loses_or_leaks(
    tmp_path: Path, figures: Figures
) -> None:
    lib = make_tiered_library(tmp_path / "library").root
    write_user_config(lib)
    bench = make_bench(tmp_path, lib, ("basic", "advanced", "enterprise"))
    bench.calibrate()
    log = TrialLog("Crash consistency", "SIGKILL of `rulesync apply`, 32-rule library")
    for seed in chosen_seeds(range(1000, 1200)):
        log.run(seed, lambda seed=seed: crash_trial(bench, seed, log))
    figures.finish(log, f"{bench.describe()}; {bench.audit.commits} commits audited")


def test_sigkill_of_apply_and_its_git_child_then_apply_converges(
    tmp_path: Path, figures: Figures
) -> None:
    lib = make_tiered_library(tmp_path / "library").root
    write_user_config(lib)
    bench = make_bench(tmp_path, lib, ("basic", "advanced", "enterprise"))
    bench.calibrate()
    log = TrialLog(
        "Crash consistency", "SIGKILL of `rulesync apply`'s whole process group (git included)"
    )
    for seed in chosen_seeds(range(2000, 2030)):
        log.run(seed, lambda seed=seed: crash_trial(bench, seed, log, kill_group=True))
    figures.finish(log, f"{bench.describe()}; {bench.audit.commits} commits audited")


def test_sigkill_of_a_1120_rule_apply_then_apply_converges(
    tmp_path: Path, corpus: Path, figures: Figures
) -> None:
    lib = make_corpus_library(corpus, tmp_path / "library", variants=2)
    write_user_config(lib)
    bench = make_bench(tmp_path, lib, ("big", "big2"))
    bench.calibrate(runs=2)
    log = TrialLog("Crash consistency", "SIGKILL of `rulesync apply`, 1,120-rule corpus library")
    for seed in chosen_seeds(range(3000, 3008)):
        log.run(seed, lambda seed=seed: crash_trial(bench, seed, log))
    figures.finish(log, f"{bench.describe()}; {bench.audit.commits} commits audited")
