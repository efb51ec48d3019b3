"""The service (`rulesync daemon`, a real subprocess) under stress: SIGKILL at random points,
`rulesync apply` racing it, storms of marker writes across 50 projects, and hostile projects
registered beside healthy ones.

The service is always stopped in a finalizer (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import math
import random
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rulesync.fsutil import atomic_write
from rulesync.paths import state_dir
from rulesync.registry import add_project
from support.env import snapshot
from support.repos import git, make_repo
from tests.reliability.conftest import Figures
from tests.reliability.harness import (
    MARKER,
    RULES,
    RULES_REL,
    TIERS,
    HistoryAudit,
    TrialDaemon,
    TrialLog,
    UserWork,
    chosen_seeds,
    error_line_problems,
    head,
    kill_stage,
    leftover_temporaries,
    library_versions,
    make_tiered_library,
    rule_files,
    start_rulesync,
    wait_converged,
    write_user_config,
)
from tests.reliability.hostile import CASES, SECTION, craft_and_clone, make_outside

pytestmark = pytest.mark.slow

MINE = f"?? {RULES_REL}/mine.mdc"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[TrialDaemon]:
    service = TrialDaemon(tmp_path)
    yield service
    service.stop()


def set_phase(repo: Path, phase: str) -> None:
    atomic_write(repo / MARKER, f"phase: {phase}\n".encode(), sync=False)


def phase_of(repo: Path) -> str:
    return (repo / MARKER).read_text().split(":", 1)[1].strip()


def make_fleet(
    tmp_path: Path, count: int, *, with_user_work: bool = True
) -> tuple[list[Path], dict[Path, UserWork]]:
    """`count` registered git projects in phase basic, each with the user's own work."""
    template = make_repo(tmp_path / "template")
    fleet, users = [], {}
    for index in range(count):
        project = tmp_path / f"project-{index:02d}"
        shutil.copytree(template, project, symlinks=True)
        set_phase(project, "basic")
        if with_user_work:
            users[project] = UserWork.create(project)
        add_project(project)
        fleet.append(project)
    return fleet, users


def service_problems(service: TrialDaemon) -> list[str]:
    """What must never appear in the service's output."""
    output = service.output()
    return [f"the service logged {w!r}" for w in ("Traceback", "sync.crashed") if w in output]


# --- SIGKILL of the service ----------------------------------------------------------------


def test_sigkill_of_the_service_at_random_points_then_its_restart_converges(
    tmp_path: Path, daemon: TrialDaemon, figures: Figures
) -> None:
    lib = make_tiered_library(tmp_path / "library").root
    write_user_config(lib)
    versions = library_versions(lib)
    fleet, users = make_fleet(tmp_path, 3)
    audits = {p: HistoryAudit(p, users[p].paths) for p in fleet}
    daemon.start()
    daemon.wait_ready()
    assert not wait_converged(fleet, allowed=[MINE])

    durations = []
    for index in range(3):  # calibrate: marker saved → rules written and committed
        set_phase(fleet[0], TIERS[(index + 1) % 3])
        started = time.perf_counter()
        assert not wait_converged(fleet[:1], allowed=[MINE])
        durations.append(time.perf_counter() - started)
    sync_seconds = statistics.median(durations)

    log = TrialLog("Crash consistency", "SIGKILL of the service, 3 projects syncing")
    for seed in chosen_seeds(range(6000, 6040)):

        def trial(seed: int = seed) -> list[str]:
            rng = random.Random(seed)
            chosen = rng.sample(fleet, rng.randint(1, len(fleet)))
            heads = {p: head(p) for p in fleet}
            moves = {}
            for project in chosen:
                start = phase_of(project)
                moves[project] = (start, rng.choice([t for t in TIERS if t != start]))
            deleted: tuple[Path, str] | None = None
            if rng.random() < 0.2:
                victim = rng.choice(fleet)
                name = rng.choice(sorted(n for n in rule_files(victim) if n != "mine.mdc"))
                (victim / RULES / name).unlink()
                deleted = (victim, name)
            rules_before = {p: rule_files(p) for p in fleet}
            for project, (_, target) in moves.items():
                set_phase(project, target)
            time.sleep(rng.uniform(0, sync_seconds * len(chosen)))
            daemon.kill()
            problems: list[str] = []
            for project in moves:
                log.count(kill_stage(project, heads[project], rules_before[project]))
            for project in fleet:
                problems += [f"{project.name}: {p}" for p in users[project].problems()]
                for name, data in rule_files(project).items():
                    if name != "mine.mdc" and data not in versions[name]:
                        problems.append(f"{project.name}: {name} is torn")
                problems += [f"{project.name}: {p}" for p in audits[project].problems()]
            daemon.start()
            daemon.wait_ready()
            problems += wait_converged(fleet, allowed=[MINE])
            for project in fleet:
                subjects = git(project, "log", "--format=%an|%s", f"{heads[project]}..HEAD")
                subjects_list = subjects.splitlines()
                if project in moves:
                    start, target = moves[project]
                    wanted = f"rulesync|rulesync: phase {start} → {target} "
                    if len(subjects_list) != 1 or not subjects_list[0].startswith(wanted):
                        problems.append(f"{project.name}: commits {subjects_list}, wanted one")
                elif subjects_list:
                    problems.append(f"{project.name}: unexpected commits {subjects_list}")
                leftovers = leftover_temporaries(project)
                if leftovers:
                    problems.append(f"{project.name}: temporary files left: {leftovers}")
                problems += [f"{project.name}: {p}" for p in users[project].problems()]
                problems += [f"{project.name}: {p}" for p in audits[project].problems()]
            if deleted is not None and not (deleted[0] / RULES / deleted[1]).is_file():
                problems.append(f"{deleted[0].name}: the deleted managed rule did not come back")
            state_leftovers = leftover_temporaries(state_dir())
            if state_leftovers:
                problems.append(f"the service left temporary files: {state_leftovers}")
            return problems + service_problems(daemon)

        log.run(seed, trial)
    log.count("service starts", daemon.starts)
    figures.finish(
        log,
        f"kill delay uniform in [0, {sync_seconds * 1000:.0f} ms × projects changed]; "
        "restart, then every project converges",
    )


# --- the service and `rulesync apply` at once ----------------------------------------------


def test_the_service_and_concurrent_applies_give_one_result_and_one_commit(
    tmp_path: Path, daemon: TrialDaemon, figures: Figures
) -> None:
    lib = make_tiered_library(tmp_path / "library").root
    write_user_config(lib)
    (project,), users = make_fleet(tmp_path, 1)
    user = users[project]
    audit = HistoryAudit(project, user.paths)
    daemon.start()
    daemon.wait_ready()
    assert not wait_converged([project], allowed=[MINE])
    log = TrialLog("Concurrency", "the service + 3 `rulesync apply` at once on one project")
    for seed in chosen_seeds(range(7000, 7020)):

        def trial(seed: int = seed) -> list[str]:
            rng = random.Random(seed)
            before, start = head(project), phase_of(project)
            target = rng.choice([t for t in TIERS if t != start])
            set_phase(project, target)
            time.sleep(rng.uniform(0, 0.05))
            procs = [start_rulesync(project, "apply") for _ in range(3)]
            problems: list[str] = []
            for proc in procs:
                _, err = proc.communicate(timeout=60)
                if proc.returncode == 1:
                    problems += error_line_problems(err, "is syncing it (lock")
                elif proc.returncode != 0 or "Traceback" in err:
                    problems.append(f"apply exited {proc.returncode}: {err.strip()!r}")
            problems += wait_converged([project], allowed=[MINE])
            subjects = git(project, "log", "--format=%an|%s", f"{before}..HEAD").splitlines()
            wanted = f"rulesync|rulesync: phase {start} → {target} "
            if len(subjects) != 1 or not subjects[0].startswith(wanted):
                problems.append(f"commits {subjects}, wanted exactly one")
            problems += user.problems() + audit.problems()
            if not daemon.alive():
                problems.append("the service died")
            return problems + service_problems(daemon)

        log.run(seed, trial)
    figures.finish(log, "one commit per change; the service stays up")


# --- storms ---------------------------------------------------------------------------------

STORM_PROJECTS = 50
STORM_ROUNDS = 40


def test_a_storm_of_marker_writes_across_50_projects_ends_in_each_final_phase(
    tmp_path: Path, daemon: TrialDaemon, figures: Figures
) -> None:
    lib = make_tiered_library(tmp_path / "library").root
    write_user_config(lib)
    fleet, _ = make_fleet(tmp_path, STORM_PROJECTS, with_user_work=False)
    audits = {p: HistoryAudit(p) for p in fleet}
    daemon.start()
    daemon.wait_ready(timeout=60)
    assert not wait_converged(fleet, timeout=60)
    heads = {p: head(p) for p in fleet}
    rng = random.Random(8000)
    writes = 0
    started = time.monotonic()
    for round_number in range(STORM_ROUNDS):
        for project in fleet:
            phase = rng.choice(TIERS)
            if round_number % 2:  # an editor's save: write a copy, rename it over the marker
                set_phase(project, phase)
            else:
                (project / MARKER).write_text(f"phase: {phase}\n")
            writes += 1
        time.sleep(rng.uniform(0, 0.02))
    storm_seconds = time.monotonic() - started
    problems = wait_converged(fleet, timeout=120)
    commits = []
    for project in fleet:
        tier = (project / ".rulesync-manifest.json").read_text()
        if f'"tier": "{phase_of(project)}"' not in tier:
            problems.append(f"{project.name} is not in its final phase {phase_of(project)}")
        count = len(git(project, "rev-list", f"{heads[project]}..HEAD").split())
        commits.append(count)
        problems += [f"{project.name}: {p}" for p in audits[project].problems()]
        if leftover_temporaries(project):
            problems.append(f"{project.name}: temporary files left")
    # The service syncs a burst after 50 ms of quiet, and at least once a second while it lasts.
    bound = 2 + math.ceil(storm_seconds)
    if max(commits) > bound:
        problems.append(f"up to {max(commits)} commits for one project, more than {bound}")
    problems += service_problems(daemon)
    if not daemon.alive():
        problems.append("the service died")
    healed = sum(len(a.marker_mismatches) for a in audits.values())
    figures.add(
        "Storms",
        f"{writes} marker writes across {STORM_PROJECTS} projects in {storm_seconds:.1f} s",
        trials=STORM_PROJECTS,
        failures=1 if problems else 0,
        detail=(
            f"every project in its final phase; commits per project: max {max(commits)}, "
            f"mean {statistics.mean(commits):.1f} (bound {bound}); {sum(commits)} in all; "
            f"every HEAD consistent; {healed} intermediate commit(s) held a marker saved "
            "during their own commit (healed by the next sync)"
        ),
    )
    assert not problems, "\n".join(problems)


# --- hostile projects beside healthy ones ----------------------------------------------------


def test_the_service_refuses_hostile_projects_and_keeps_serving_the_others(
    tmp_path: Path, daemon: TrialDaemon, figures: Figures
) -> None:
    outside = make_outside(tmp_path / "outside")
    clones = [craft_and_clone(tmp_path, case, i, outside) for i, case in enumerate(CASES)]
    for clone in clones:
        add_project(clone)
    healthy = []
    for index in range(2):
        project = make_repo(tmp_path / f"healthy-{index}")
        set_phase(project, "basic")
        add_project(project)
        healthy.append(project)
    refused = {
        clone: head(clone) for case, clone in zip(CASES, clones, strict=True) if case.exit_code == 2
    }
    watched = outside.watched()
    daemon.start()
    daemon.wait_ready(timeout=60)
    problems = wait_converged(healthy, timeout=30)
    for phase in ("advanced", "enterprise", "basic"):
        for project in healthy:
            set_phase(project, phase)
        problems += wait_converged(healthy, timeout=30)
    if not daemon.alive():
        problems.append("the service died")
    if outside.watched() != watched:
        problems.append("something outside the projects changed")
    secret = outside.secret.decode()
    if secret in daemon.output() or any(
        secret in p.read_text(errors="replace") for p in (state_dir() / "log").glob("*")
    ):
        problems.append("the private string reached the service's log")
    for case, clone in zip(CASES, clones, strict=True):
        leaked = [rel for rel, data in snapshot(clone).items() if outside.secret in data]
        if leaked:
            problems.append(f"{case.name}: the private string was copied into {leaked}")
        if clone in refused and head(clone) != refused[clone]:
            problems.append(f"{case.name}: the service committed in a refused project")
    problems += service_problems(daemon)
    commits = [len(git(p, "rev-list", "HEAD").split()) - 1 for p in healthy]
    figures.add(
        SECTION,
        f"the service with all {len(CASES)} registered beside 2 healthy projects",
        trials=3,
        failures=1 if problems else 0,
        detail=f"3 phase changes each; the healthy projects made {sum(commits)} commits",
    )
    assert not problems, "\n".join(problems)
