"""Readiness benchmark: `rulesync readiness`, cold process, on a project with 10,000 commits
(built with `git fast-import`: twelve authors over two years, three domain folders, the
bundled library's sources), `phase: auto` so the settling window is read from history too;
beside it the one `git log` walk the measurement needs. Writes its section of
bench/RESULTS.md (unless `--no-write`).

    python bench/bench_readiness.py [--commits N] [--runs N] [--no-write]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._results import median, percentile, wall, write_section
from support.env import isolated_env

EXE = Path(sys.executable).parent / "rulesync"
COMMAND = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "rulesync"]
AUTHORS = [(f"Developer {i}", f"dev{i}@example.com") for i in range(12)]
DAY = 86400


def history(commits: int, now: int) -> bytes:
    """A fast-import stream: `commits` commits on main, evenly over two years up to `now`,
    each by one of the authors, each changing one file of one of three domains (a commit to
    the branch fast-import is building follows the one before)."""
    out: list[bytes] = []
    start = now - 730 * DAY
    step = max(1, (now - start) // max(1, commits))
    for index in range(commits):
        name, email = AUTHORS[index % len(AUTHORS)]
        when = start + index * step
        body = f"change {index}\n".encode()
        path = f"src/app/domains/d{index % 3}/module{index % 50}.py"
        message = f"change {index}\n".encode()
        out += [
            b"commit refs/heads/main\n",
            f"author {name} <{email}> {when} +0000\n".encode(),
            f"committer {name} <{email}> {when} +0000\n".encode(),
            b"data %d\n" % len(message),
            message,
        ]
        out += [f"M 100644 inline {path}\n".encode(), b"data %d\n" % len(body), body, b"\n"]
    return b"".join(out)


def build(repo: Path, commits: int, env: dict[str, str]) -> None:
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=env, check=True)
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo,
        env=env,
        input=history(commits, int(time.time()) - 60),
        check=True,
    )
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, env=env, check=True)
    (repo / ".rulesync.yaml").write_text("phase: auto\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rulesync-bench-readiness-") as tmp:
        base = Path(tmp)
        env = isolated_env(base / "home")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        repo = base / "project"
        started = time.perf_counter()
        build(repo, args.commits, env)
        built = time.perf_counter() - started
        wall([*COMMAND, "readiness"], repo, env)  # compiles the bytecode, as installed
        walk = [
            wall(["git", "log", "--use-mailmap", "--format=%aN%x1f%aE%x1f%at", "HEAD"], repo, env)
            for _ in range(args.runs)
        ]
        runs = [wall([*COMMAND, "readiness"], repo, env) for _ in range(args.runs)]
        shown = subprocess.run(
            [*COMMAND, "readiness"], cwd=repo, env=env, capture_output=True, text=True, check=True
        ).stdout
    developers = next((ln.strip() for ln in shown.splitlines() if "developers =" in ln), "")
    lines = [
        "## `rulesync readiness`, cold process",
        "",
        f"A project with {args.commits:,} commits by {len(AUTHORS)} authors over two years "
        f"(built by `git fast-import` in {built:.1f} s), `phase: auto` with the bundled library "
        "(its git and files sources measured now and, for the tier met now, on each day of its "
        "settling window; no Prometheus configured).",
        "",
        "| figure | median | p95 | runs |",
        "|---|---|---|---|",
        f"| `rulesync readiness` | {median(runs) * 1000:.0f} ms | "
        f"{percentile(runs, 95) * 1000:.0f} ms | {len(runs)} |",
        f"| the `git log` walk it needs, alone | {median(walk) * 1000:.0f} ms | "
        f"{percentile(walk, 95) * 1000:.0f} ms | {len(walk)} |",
        "",
        f"Measured: `{developers}`",
    ]
    if args.no_write:
        print("\n".join(lines))
    else:
        write_section(
            "bench_readiness",
            "\n".join(lines),
            f"python bench/bench_readiness.py --commits {args.commits} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
