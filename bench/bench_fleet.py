"""Fleet benchmark: `rulesync fleet --json` over 50 and 500 local repositories (bare, read
by `file://` URL, so each is listed and fetched as a remote one is), each following a
git-served library, with a cold cache (nothing fetched yet: every repository and the library
fetched) and a warm one (the same run again). Writes its section of bench/RESULTS.md.

    python bench/bench_fleet.py [--sizes 50,500] [--runs N] [--no-write]

`--sizes 3 --runs 1 --no-write` checks that it runs, in a few seconds, writing nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._results import median, percentile, wall, write_section
from support.env import isolated_env
from support.repos import make_library

EXE = Path(sys.executable).parent / "rulesync"
COMMAND = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "rulesync"]
IDENTITY = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return proc.stdout


def build(base: Path, count: int, env: dict[str, str]) -> tuple[list[str], Path]:
    """A git-served library, one project applied with it, and `count` bare copies of the
    project; returns their file:// URLs and the cache folder the runs use."""
    library = make_library(base / "library-work")
    run(["git", "init", "-q", "-b", "main"], library, env)
    run(["git", "add", "-A"], library, env)
    run(["git", *IDENTITY, "commit", "-qm", "library"], library, env)
    bare_library = base / "library.git"
    run(["git", "clone", "-q", "--bare", str(library), str(bare_library)], base, env)
    url = f"file://{bare_library}"
    config = Path(env["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"libraries: ['{url}']\n")
    project = base / "project"
    project.mkdir()
    run(["git", "init", "-q", "-b", "main"], project, env)
    (project / ".rulesync.yaml").write_text(f"phase: advanced\nlibrary: '{url}#main'\n")
    run(["git", *IDENTITY, "commit", "-q", "--allow-empty", "-m", "initial"], project, env)
    run([*COMMAND, "apply"], project, env)
    urls = []
    for index in range(count):
        copy = base / "repos" / f"repo-{index:04d}.git"
        run(["git", "clone", "-q", "--bare", "--local", str(project), str(copy)], base, env)
        urls.append(f"file://{copy}")
    return urls, Path(env["XDG_CACHE_HOME"])


def measure(count: int, runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds of cold and warm `fleet --json` runs over `count` repositories."""
    cold, warm = [], []
    with tempfile.TemporaryDirectory(prefix="rulesync-bench-fleet-") as tmp:
        base = Path(tmp)
        env = isolated_env(base / "home")
        urls, cache = build(base, count, env)
        command = [*COMMAND, "fleet", "--json", *urls]
        for _ in range(runs):
            shutil.rmtree(cache / "rulesync", ignore_errors=True)
            cold.append(wall_any(command, base, env))
            warm.append(wall_any(command, base, env))
        doc = json.loads(
            subprocess.run(command, cwd=base, env=env, capture_output=True, text=True).stdout
        )
        states = {line["state"] for line in doc["repositories"]}
        assert len(doc["repositories"]) == count and states == {"in sync"}, states
    return cold, warm


def wall_any(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of one fleet run, whatever its exit code (1 means attention, not error)."""
    try:
        return wall(command, cwd, env)
    except subprocess.CalledProcessError as exc:
        if exc.returncode != 1:
            raise
        raise AssertionError(f"fleet found repositories needing attention: {exc}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="50,500", help="repository counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    lines = [
        "## `rulesync fleet` (bench/bench_fleet.py)",
        "",
        "`fleet --json` over bare repositories read by `file://` URL (each listed with "
        "`ls-remote`, fetched shallow into the fleet cache, its marker, manifest and rules "
        "read from git's objects, `check`'s plan made), all following one git-served library. "
        "Cold: the cache emptied first; warm: the same run again.",
        "",
        "| repositories | cache | median | p95 | per repository | runs |",
        "|---|---|---|---|---|---|",
    ]
    for size in (int(s) for s in args.sizes.split(",")):
        cold, warm = measure(size, args.runs)
        for name, values in (("cold", cold), ("warm", warm)):
            lines.append(
                f"| {size} | {name} | {median(values):.2f} s | {percentile(values, 95):.2f} s | "
                f"{median(values) / size * 1000:.0f} ms | {len(values)} |"
            )
    body = "\n".join(lines)
    if args.no_write:
        print(body)
    else:
        write_section("bench_fleet", body)


if __name__ == "__main__":
    main()
