"""Targets benchmarks: a fresh `apply` (with its commit) of the corpus tier with every target
enabled beside `[cursor]` alone, and `explain PATH` (the matrix of every rule × every
assistant) on that tier. Writes its section of bench/RESULTS.md.

    python bench/bench_targets.py [--runs N] [--rules N] [--corpus PATH] [--print-only]

`--rules 20 --runs 1 --settle 0 --print-only` is a quick run that writes nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._results import median, percentile, wall, write_section
from bench.bench_engine import COMMAND, new_repo
from support.env import isolated_env
from support.repos import CORPUS, make_corpus_library

ALL = ("cursor", "agents", "claude", "copilot", "devin", "windsurf", "kiro", "cline")


def corpus_library(corpus: Path, dest: Path, rules: int) -> Path:
    """The corpus as one tier `big`, cut to its first `rules` rules (0: all)."""
    make_corpus_library(corpus, dest)
    if rules:
        for path in sorted((dest / "big").glob("*.mdc"))[rules:]:
            path.unlink()
    return dest


def _row(figure: str, values: list[float]) -> str:
    return (
        f"| {figure} | {median(values) * 1000:.0f} ms | {percentile(values, 95) * 1000:.0f} ms "
        f"| {len(values)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rules", type=int, default=0, help="only the first N rules (0: all)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the rule corpus folder")
    parser.add_argument("--settle", type=float, default=65, help="seconds to wait before measuring")
    parser.add_argument(
        "--print-only", action="store_true", help="print the section; leave RESULTS.md alone"
    )
    args = parser.parse_args()
    # Our own folder, nothing deleted while measuring, a pause after `sync`: see
    # bench_engine.py for why (ext4 without a journal skips recently freed inodes).
    work = Path(__file__).resolve().parent / ".work"
    work.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rulesync-bench-targets-", dir=work) as tmp:
        base = Path(tmp)
        env = isolated_env(base / "home")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        big = corpus_library(args.corpus, base / "big", args.rules)
        config = Path(env["XDG_CONFIG_HOME"]) / "rulesync"
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.yaml").write_text(f"libraries: [{big}]\n")
        count = len(list((big / "big").glob("*.mdc")))
        marker = f"phase: big\nlibrary: {big}\n"
        every = f"targets: [{', '.join(ALL)}]\n"
        explained = new_repo(base / "explained", env)
        (explained / ".rulesync.yaml").write_text(marker + every)
        wall([*COMMAND, "apply"], explained, env)  # warm-up: bytecode written, files in place
        os.sync()
        time.sleep(args.settle)

        one, eight, explain_path, explain_budget = [], [], [], []
        for i in range(args.runs):  # interleaved, so both see the same machine
            repo = new_repo(base / f"one{i}", env)
            (repo / ".rulesync.yaml").write_text(marker)
            one.append(wall([*COMMAND, "apply"], repo, env))
            repo8 = new_repo(base / f"eight{i}", env)
            (repo8 / ".rulesync.yaml").write_text(marker + every)
            eight.append(wall([*COMMAND, "apply"], repo8, env))
            explain_path.append(wall([*COMMAND, "explain", "src/app/main.py"], explained, env))
            explain_budget.append(wall([*COMMAND, "explain"], explained, env))
        shutil.rmtree(base / "home", ignore_errors=True)

    lines = [
        "## Targets (`rulesync apply` with every target, `explain`, cold processes)",
        "",
        f"The corpus tier ({count} rules); every target is "
        f"`{', '.join(ALL)}`, planned together by the reading model.",
        "",
        "| figure | median | p95 | runs |",
        "|---|---|---|---|",
        _row(f"fresh `apply` of {count} rules, `[cursor]`, with the git commit", one),
        _row(f"fresh `apply` of {count} rules, every target, with the git commit", eight),
        _row(f"`explain PATH`, {count} rules × every assistant", explain_path),
        _row(f"`explain` (budget per assistant, every tier), {count} rules", explain_budget),
        "",
        f"Every target costs {median(eight) / median(one):.2f}× `[cursor]` alone.",
    ]
    command = "python bench/bench_targets.py" + (f" --rules {args.rules}" if args.rules else "")
    if args.print_only:
        print("\n".join(lines))
        return
    write_section("bench_targets", "\n".join(lines), command)


if __name__ == "__main__":
    main()
