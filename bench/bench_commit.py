"""What rulesync's commit costs: the git processes a phase change's commit starts, and the
commit's time beside the floor of `git add` + `git commit` of the same files. Writes its
section of bench/RESULTS.md.

    python bench/bench_commit.py [--runs N] [--print-only]

A phase change on the bundled library (basic ↔ advanced: +3 ~5 -3 rules, the manifest and the
marker) is synced in two projects, interleaved, by one process (so no interpreter start is
timed): one commits, one does not (`commit: false` in its marker); the difference of the
medians is the commit's cost. The floor commits the second project's same change by hand, as
a person would, with `git add` and `git commit`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._results import median, percentile, write_section
from bench.bench_engine import COMMAND
from support.env import isolated_env

PHASES = ("advanced", "basic")


def _repo(path: Path, env: dict[str, str], marker: str) -> Path:
    path.mkdir(parents=True)
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Bench"],
        ["config", "user.email", "bench@example.com"],
    ):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    (path / ".rulesync.yaml").write_text(marker)
    subprocess.run(["git", "add", "-A"], cwd=path, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "marker"], cwd=path, env=env, check=True)
    subprocess.run([*COMMAND, "apply"], cwd=path, env=env, check=True, capture_output=True)
    if "commit: false" in marker:
        subprocess.run(["git", "add", "-A"], cwd=path, env=env, check=True)
        subprocess.run(["git", "commit", "-q", "-m", "rules"], cwd=path, env=env, check=True)
    return path


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _set_phase(project: Path, phase: str, extra: str = "") -> None:
    (project / ".rulesync.yaml").write_text(f"phase: {phase}\n{extra}")


def git_processes(base: Path, env: dict[str, str]) -> list[str]:
    """The git commands one phase change's `rulesync apply` starts, in order."""
    project = _repo(base / "counted", env, "phase: basic\n")
    shim = base / "shim"
    shim.mkdir()
    log = base / "git-commands"
    real = shutil.which("git", path=env.get("PATH"))
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    _set_phase(project, "advanced")
    counted = {**env, "PATH": f"{shim}{os.pathsep}{env['PATH']}"}
    subprocess.run([*COMMAND, "apply"], cwd=project, env=counted, check=True, capture_output=True)
    commands = []
    for line in log.read_text().splitlines():
        words = line.split()
        commands.append(next(w for w in words if not w.startswith("-") and "=" not in w))
    return commands


def _child(committing: Path, silent: Path, runs: int) -> None:
    """Run in the isolated environment: sync both projects `runs` times, printing the
    seconds of each sync and of the floor, one round per line."""
    from rulesync.config import load_config
    from rulesync.sync import sync

    config = load_config()
    env = dict(os.environ)
    add = ["git", "add", "-A", ".cursor", ".rulesync.yaml", ".rulesync-manifest.json"]
    for run in range(runs):
        phase = PHASES[run % 2]
        _set_phase(committing, phase)
        _set_phase(silent, phase, "commit: false\n")
        started = time.perf_counter()
        sync(committing, config)
        took = time.perf_counter() - started
        started = time.perf_counter()
        sync(silent, config)
        took_silent = time.perf_counter() - started
        floor = _timed(add, silent, env) + _timed(
            ["git", "commit", "-q", "-m", "hand"], silent, env
        )
        print(f"{took} {took_silent} {floor}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--print-only", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env = isolated_env(base / "home")
        env["PATH"] = os.environ["PATH"]
        commands = git_processes(base, env)
        committing = _repo(base / "committing", env, "phase: basic\n")
        silent = _repo(base / "silent", env, "phase: basic\ncommit: false\n")
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(committing), str(silent), str(args.runs + 2)],
            env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            check=True,
            capture_output=True,
            text=True,
        )
        rounds = [tuple(map(float, line.split())) for line in child.stdout.splitlines()][2:]
        with_commit = [r[0] for r in rounds]  # the first round of each phase warms the caches
        without = [r[1] for r in rounds]
        floor = [r[2] for r in rounds]
    commit_cost = median(with_commit) - median(without)
    ratio = commit_cost / median(floor)
    ms = 1000.0
    body = "\n".join(
        [
            "## rulesync's commit (`bench/bench_commit.py`)",
            "",
            f"A phase change on the bundled library (basic ↔ advanced), {args.runs} syncs of "
            "each kind interleaved in one process; the commit's cost is the median sync with "
            "its commit less the median sync of the same change in a project with "
            "`commit: false`; the floor is `git add` + `git commit` of that same change by "
            "hand. The git processes are counted for a whole `rulesync apply`.",
            "",
            "| figure | target | measured | verdict |",
            "|---|---|---|---|",
            f"| git processes one phase change's `apply` starts | ≤ 5 | {len(commands)} "
            f"({', '.join(commands)}) | {'met' if len(commands) <= 5 else 'not met'} |",
            f"| a sync with its commit, median (p95) | — | {median(with_commit) * ms:.0f} ms "
            f"({percentile(with_commit, 95) * ms:.0f} ms) | — |",
            f"| a sync without a commit, median (p95) | — | {median(without) * ms:.0f} ms "
            f"({percentile(without, 95) * ms:.0f} ms) | — |",
            f"| the commit's cost | — | {commit_cost * ms:.1f} ms | — |",
            f"| floor: `git add` + `git commit`, median (p95) | — | {median(floor) * ms:.1f} ms "
            f"({percentile(floor, 95) * ms:.1f} ms) | — |",
            f"| the commit beside the floor | — | {ratio:.2f}× | — |",
        ]
    )
    print(body)
    if not args.print_only:
        write_section("bench_commit", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
