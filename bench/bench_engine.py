"""Engine benchmarks: no-op `apply` (cold process, 20-rule tier), fresh `apply` and `check`
of a 1,120-rule tier made from the corpus, the no-op and the fresh apply also with all five
targets beside `[cursor]` alone, each ratio beside its goal; the fresh apply with its commit
beside `cp -r` + `git add` + `git commit` of the same files, and what one more rule costs
beside what it costs `cp -r`. Writes its section of bench/RESULTS.md; then the
cold start (`check` and a no-op `apply` beside a bare `python -c pass`, with what their
imports cost) in a section of its own.

    python bench/bench_engine.py [--runs N] [--start-only | --engine-only]
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

from bench._results import median, percentile, wall, write_section
from support.env import isolated_env
from support.repos import CORPUS, make_corpus_library

EXE = Path(sys.executable).parent / "rulesync"
COMMAND = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "rulesync"]
FIVE = "targets: [cursor, agents, claude, copilot, devin]\n"


def new_repo(path: Path, env: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Bench"],
        ["config", "user.email", "bench@example.com"],
        ["commit", "-q", "--allow-empty", "-m", "initial"],
    ):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    return path


def small_library(dest: Path, count: int = 20, corpus: Path = CORPUS) -> Path:
    (dest / "basic").mkdir(parents=True)
    for path in sorted((corpus / "rules-mdc").glob("*.mdc"))[:count]:
        shutil.copy(path, dest / "basic" / path.name)
    (dest / "tiers.yaml").write_text("tiers:\n  - name: basic\n    description: twenty rules\n")
    return dest


def create_files(folder: Path, rules: list[tuple[str, bytes]]) -> float:
    """Wall seconds to create these files with plain Python: the disk's floor for an apply."""
    started = time.perf_counter()
    folder.mkdir()
    for name, data in rules:
        with open(folder / name, "wb") as handle:
            handle.write(data)
    return time.perf_counter() - started


def row(figure: str, target: str, values: list[float], limit: float) -> str:
    med, p95 = median(values), percentile(values, 95)
    verdict = "met" if med <= limit else "**missed**"
    return (
        f"| {figure} | {target} | {med * 1000:.0f} ms | {p95 * 1000:.0f} ms | {len(values)} | "
        f"{verdict} |"
    )


def interpreter() -> str:
    """The Python the installed `rulesync` runs on (its script's `#!` line)."""
    if EXE.exists():
        first = EXE.read_text(encoding="utf-8", errors="replace").splitlines()[0]
        if first.startswith("#!") and " " not in first.strip():
            return first[2:].strip()
    return sys.executable


def import_costs(args: list[str], cwd: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    """Median self time (seconds) of each module a run of `python -X importtime ARGS` loads."""
    seen: dict[str, list[float]] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [interpreter(), "-X", "importtime", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        for line in proc.stderr.splitlines():
            fields = line.removeprefix("import time:").split("|")
            if line.startswith("import time:") and len(fields) == 3 and fields[0].strip().isdigit():
                seen.setdefault(fields[2].strip(), []).append(int(fields[0]) / 1e6)
    return {name: median(t + [0.0] * (runs - len(t))) for name, t in seen.items()}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# A cold `check` or no-op `apply` may take this many times a bare start of its interpreter.
START_GOAL = 3.0
# Modules a run could load and should not, each said in the section when it is absent.
START_ABSENT = ("yaml", "dataclasses", "subprocess", "argparse", "secrets", "shutil")
# What every run needs, said when present: the standard library's heavier imports.
START_NEEDED = ("pathlib", "re", "typing", "enum", "json", "hashlib")


def _load_note(loads: list[float]) -> str:
    """Whether other work shared the machine: the 1-minute load average around the runs."""
    shown = " / ".join(f"{load:.1f}" for load in loads)
    cores = os.cpu_count() or 1
    if max(loads) < 0.5 * cores:
        return f"The machine was quiet (1-minute load average {shown} at start / middle / end)."
    return (
        f"The machine was not quiet (1-minute load average {shown} at start / middle / end, "
        f"{cores} cores): other work shared it, so the times are upper bounds; the runs are "
        "interleaved, so the ratios are the steadier measure."
    )


def cold_start(runs: int, corpus: Path = CORPUS, command: str = "") -> None:
    """`rulesync check` and a no-op `apply` (20 rules, in sync) beside a bare start of the same
    Python, interleaved; then where the difference goes, from `-X importtime`."""
    work = Path(__file__).resolve().parent / ".work"
    work.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rulesync-start-", dir=work) as tmp:
        base = Path(tmp)
        env = isolated_env(base / "home")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled bytecode is kept
        lib20 = small_library(base / "lib20", corpus=corpus)
        project = new_repo(base / "project", env)
        (project / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {lib20}\n")
        (Path(env["XDG_CONFIG_HOME"]) / "rulesync").mkdir(parents=True, exist_ok=True)
        (Path(env["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml").write_text(
            f"libraries: [{lib20}]\n"
        )
        script = [str(EXE)] if EXE.exists() else ["-m", "rulesync"]
        commands = {
            "bare": [interpreter(), "-c", "pass"],
            "check": [*COMMAND, "check"],
            "apply": [*COMMAND, "apply"],
        }
        wall(commands["apply"], project, env)  # the first sync, and the bytecode written
        times: dict[str, list[float]] = {name: [] for name in commands}
        loads = [os.getloadavg()[0]]
        for turn in range(runs + 1):
            if turn == runs // 2:
                loads.append(os.getloadavg()[0])
            # Interleaved, in a rotating order, so all three see the same machine.
            names = list(commands)[turn % 3 :] + list(commands)[: turn % 3]
            for name in names:
                took = wall(commands[name], project, env)
                if turn:  # the first round warms the caches
                    times[name].append(took)
        loads.append(os.getloadavg()[0])
        samples = max(5, runs // 4)
        bare_imports = import_costs(["-c", "pass"], project, env, samples)
        check_imports = {
            name: cost
            for name, cost in import_costs([*script, "check"], project, env, samples).items()
            if name not in bare_imports
        }
        apply_imports = {
            name: cost
            for name, cost in import_costs([*script, "apply"], project, env, samples).items()
            if name not in bare_imports
        }

    bare, check, noop = (median(times[name]) for name in ("bare", "check", "apply"))

    def start_row(figure: str, values: list[float]) -> str:
        ratio = median(values) / bare
        verdict = "met" if ratio <= START_GOAL else "**missed**"
        return (
            f"| {figure} | ≤ {START_GOAL:g}× bare start | {_ms(median(values))} | "
            f"{_ms(percentile(values, 95))} | {ratio:.2f}× | {verdict} |"
        )

    groups: dict[str, float] = {}
    for name, cost in check_imports.items():
        top = name.split(".")[0].lstrip("_")
        groups[top] = groups.get(top, 0.0) + cost
    total = sum(check_imports.values())
    ours = groups.get("rulesync", 0.0)
    ranked = sorted(((n, c) for n, c in groups.items() if n != "rulesync"), key=lambda i: -i[1])
    top_groups = ", ".join(f"{name} {_ms(cost)}" for name, cost in ranked[:10])
    own_modules = sorted(n for n in check_imports if n.split(".")[0] == "rulesync")
    absent = [name for name in START_ABSENT if name not in check_imports]
    needed = [name for name in START_NEEDED if name in check_imports]
    apply_only = {n: c for n, c in apply_imports.items() if n not in check_imports}
    apply_extra = ", ".join(
        f"{name} {_ms(cost)}" for name, cost in sorted(apply_only.items(), key=lambda i: -i[1])[:6]
    )
    lines = [
        "## Cold start (`rulesync check` / no-op `apply`, 20 rules, beside a bare Python)",
        "",
        "| figure | target | median | p95 | median vs bare start | verdict |",
        "|---|---|---|---|---|---|",
        f"| bare `python -c pass` (the interpreter of the installed `rulesync`) | — | "
        f"{_ms(bare)} | {_ms(percentile(times['bare'], 95))} | 1.0× | — |",
        start_row("`rulesync check`, 20 rules, in sync", times["check"]),
        start_row("no-op `rulesync apply`, 20 rules", times["apply"]),
        "",
        f"{runs} interleaved rounds after a warm-up round (bytecode cached, as after any first "
        f"run). **What the remainder is made of**: `check` takes {_ms(check - bare)} more than "
        f"the bare start. `python -X importtime` of `check` ({samples} runs, median self time "
        "per module; the tracing itself makes each a little slower) finds the modules a bare "
        f"start does not load taking {_ms(total)}: rulesync's own {len(own_modules)} modules "
        f"{_ms(ours)}, and the standard library {_ms(total - ours)} ({top_groups}), among "
        f"them {', '.join(f'`{n}`' for n in needed)}, which every run needs (`pathlib` brings "
        "`urllib` and `ipaddress`, `hashlib` OpenSSL). Not loaded at all: "
        f"{', '.join(f'`{n}`' for n in absent) or 'nothing left out'} (`yaml` only when a file "
        "leaves the plain subset rulesync reads itself; records are NamedTuples, not "
        "dataclasses; `argparse` only for `--help`, a usage error or another command: a plain "
        "`check` or `apply` is read by `rulesync.cli` itself; a temporary name takes "
        "`os.urandom`'s bytes without `secrets`). The rest, beyond the imports, is the work: "
        "reading the marker, config.yaml and tiers.yaml, hashing the 20 rules and the 20 files, "
        "the plan; then the process ends once its exit functions have run and its output is "
        "flushed, without the interpreter's teardown of every module (about a tenth of a short "
        "run). "
        + (
            f"A no-op `apply` takes {_ms(noop - check)} more than `check`"
            if noop >= check
            else f"A no-op `apply` took {_ms(check - noop)} less than `check` here (noise)"
        )
        + ": it adds the lock, and HEAD's id read from git's own files to know no commit is owed ("
        + (
            "no git process: HEAD and the manifest are the ones last found matching"
            if "subprocess" not in apply_imports
            else "one `git cat-file` of the manifest at HEAD"
        )
        + (f"), with the modules only it loads: {apply_extra}." if apply_extra else ")."),
        "",
        _load_note(loads),
    ]
    write_section(
        "bench_engine.start",
        "\n".join(lines),
        command or "python bench/bench_engine.py --start-only",
    )


def _pair(figure: str, one: list[float], five: list[float], goal: float) -> str:
    ratio = median(five) / median(one)
    verdict = "met" if ratio <= goal else "**not met**"
    return (
        f"| {figure} | {median(one) * 1000:.0f} ms | {median(five) * 1000:.0f} ms | "
        f"{percentile(five, 95) * 1000:.0f} ms | {ratio:.2f}× | ≤ {goal:g}× | {verdict} |"
    )


def git_floor(repo: Path, folder: Path, env: dict[str, str]) -> float:
    """Wall seconds of `cp -r` of the tier into `.cursor/rules`, `git add` and `git commit`: the
    floor of a fresh apply with its commit, done by hand with the same files."""
    started = time.perf_counter()
    (repo / ".cursor").mkdir()
    for args in (
        ["cp", "-r", str(folder), str(repo / ".cursor" / "rules")],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "rules"],
    ):
        subprocess.run(args, cwd=repo, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def copy(folder: Path, dest: Path) -> float:
    """Wall seconds of `cp -r FOLDER DEST`."""
    return wall(["cp", "-r", str(folder), str(dest)], folder.parent)


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def quiet_note(loads: list[float]) -> str:
    """What the machine was doing besides: the 1-minute load average around the runs."""
    shown = " / ".join(f"{load:.1f}" for load in loads)
    cores = os.cpu_count() or 1
    if max(loads) < 0.5 * cores:
        return f"The machine was quiet (1-minute load average {shown} at start / middle / end)."
    return (
        f"The machine was not quiet (1-minute load average {shown} at start / middle / end, "
        f"{cores} cores): other work shared its CPU and disk, so every figure is an upper "
        "bound, and a ratio leans towards what the busier resource (the disk: file counts) "
        "makes of it."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--start-only", action="store_true", help="measure the cold start alone (its section)"
    )
    parser.add_argument(
        "--engine-only", action="store_true", help="measure the engine alone (its section)"
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the rule corpus folder")
    parser.add_argument(
        "--settle",
        type=float,
        default=65,
        help="seconds to wait after setting up, before measuring (see below)",
    )
    args = parser.parse_args()
    if args.start_only:
        cold_start(args.runs, args.corpus)
        return
    # On ext4 without a journal (this machine's disk) the inode allocator skips every inode
    # freed in the last 60 s (360 s until written back), one buffer lookup each, so creating
    # files in a folder next to a large deletion (a test run's clean-up in /tmp, the last
    # benchmark's) can be 20x slower. So: our own folder, nothing deleted while measuring, and
    # a pause after `sync` so earlier deletions age out. The floor row shows what the disk did.
    work = Path(__file__).resolve().parent / ".work"
    work.mkdir(exist_ok=True)
    loads = []
    with tempfile.TemporaryDirectory(prefix="rulesync-bench-", dir=work) as tmp:
        base = Path(tmp)
        env = isolated_env(base / "home")
        # As installed: Python keeps rulesync's compiled bytecode (the warm-up run writes it).
        env.pop("PYTHONDONTWRITEBYTECODE", None)

        lib20 = small_library(base / "lib20", corpus=args.corpus)
        project = new_repo(base / "noop", env)
        (project / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {lib20}\n")
        project5 = new_repo(base / "noop5", env)
        (project5 / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {lib20}\n{FIVE}")
        (Path(env["XDG_CONFIG_HOME"]) / "rulesync").mkdir(parents=True, exist_ok=True)
        big = make_corpus_library(args.corpus, base / "big")
        (Path(env["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml").write_text(
            f"libraries: [{lib20}, {big}]\n"
        )
        wall([*COMMAND, "apply"], project, env)
        wall([*COMMAND, "apply"], project5, env)
        os.sync()
        time.sleep(args.settle)
        loads.append(os.getloadavg()[0])
        noop, noop5 = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine
            noop.append(wall([*COMMAND, "apply"], project, env))
            noop5.append(wall([*COMMAND, "apply"], project5, env))
        loads.append(os.getloadavg()[0])

        rules = [(path.name, path.read_bytes()) for path in sorted(big.glob("big/*.mdc"))]
        fresh, fresh5, check, floor = [], [], [], []
        fresh_nocommit: list[float] = []
        fresh5_nocommit: list[float] = []
        fresh_small: list[float] = []
        by_hand, cp_big, cp_small = [], [], []
        for i in range(max(5, args.runs // 3)):
            floor.append(create_files(base / f"floor{i}", rules))
            by_hand.append(git_floor(new_repo(base / f"by-hand{i}", env), big / "big", env))
            repo = new_repo(base / f"fresh{i}", env)
            (repo / ".rulesync.yaml").write_text(f"phase: big\nlibrary: {big}\n")
            fresh.append(wall([*COMMAND, "apply"], repo, env))
            repo5 = new_repo(base / f"fresh5-{i}", env)
            (repo5 / ".rulesync.yaml").write_text(f"phase: big\nlibrary: {big}\n{FIVE}")
            fresh5.append(wall([*COMMAND, "apply"], repo5, env))
            check.append(wall([*COMMAND, "check"], repo, env))
            for runs, marker, name in (
                (fresh_nocommit, f"phase: big\nlibrary: {big}\n", "plain"),
                (fresh5_nocommit, f"phase: big\nlibrary: {big}\n{FIVE}", "plain5-"),
                (fresh_small, f"phase: basic\nlibrary: {lib20}\n", "small"),
            ):
                plain = base / f"{name}{i}"
                plain.mkdir()
                (plain / ".rulesync.yaml").write_text(marker)
                runs.append(wall([*COMMAND, "apply", "--no-commit"], plain, env))
            cp_big.append(copy(big / "big", base / f"cp{i}"))
            cp_small.append(copy(lib20 / "basic", base / f"cp-small{i}"))
        loads.append(os.getloadavg()[0])
        small = len(list((lib20 / "basic").glob("*.mdc")))

    count = len(rules)
    # Per rule: what one more rule costs, the fixed cost of a process taken away (the
    # 1,120-rule run less the 20-rule one, over the 1,100 rules between).
    per_rule = (median(fresh_nocommit) - median(fresh_small)) / (count - small)
    per_rule_cp = (median(cp_big) - median(cp_small)) / (count - small)
    ratio_floor = median(fresh) / median(by_hand)
    ratio_cp = per_rule / per_rule_cp
    lines = [
        "## Sync engine (`rulesync apply` / `check`, cold processes)",
        "",
        "| figure | target | median | p95 | runs | median vs target |",
        "|---|---|---|---|---|---|",
        row("no-op `apply`, 20-rule tier", "≤ 150 ms", noop, 0.150),
        row(f"fresh `apply` of {count} rules, with the git commit", "≤ 500 ms", fresh, 0.5),
        row(f"fresh `apply` of {count} rules, `--no-commit`", "—", fresh_nocommit, 0.5),
        row(f"`check` of {count} rules, in sync", "≤ 300 ms", check, 0.3),
        "",
        "Beside the floor, measured in the same runs (interleaved):",
        "",
        "| figure | rulesync | floor | ratio | goal | verdict |",
        "|---|---|---|---|---|---|",
        f"| fresh `apply` of {count} rules with its commit, vs `cp -r` + `git add -A` + "
        f"`git commit` of the same files | {median(fresh) * 1000:.0f} ms | "
        f"{median(by_hand) * 1000:.0f} ms | {ratio_floor:.2f}× | ≤ 1.1× | "
        f"{'met' if ratio_floor <= 1.1 else '**not met**'} |",
        f"| per rule: fresh `apply --no-commit`, vs `cp -r` | {_us(per_rule)} | "
        f"{_us(per_rule_cp)} | {ratio_cp:.2f}× | ≤ 2× | "
        f"{'met' if ratio_cp <= 2 else '**not met**'} |",
        "",
        f"Per rule is what one more rule costs: the median {count}-rule run less the median "
        f"{small}-rule run, over the {count - small} rules between (so the process's start and "
        f"fixed work cancel out): rulesync {median(fresh_nocommit) * 1000:.0f} − "
        f"{median(fresh_small) * 1000:.0f} ms, `cp -r` {median(cp_big) * 1000:.1f} − "
        f"{median(cp_small) * 1000:.1f} ms. rulesync's includes reading and checking each "
        "library file, its digest, the plan and an atomic write (a temporary file renamed "
        "into place).",
        "",
        "The same with all five targets (`cursor, agents, claude, copilot, devin`) beside "
        "`[cursor]` alone:",
        "",
        "| figure | `[cursor]` median | five targets median | five targets p95 | ratio | goal "
        "| verdict |",
        "|---|---|---|---|---|---|---|",
        _pair("no-op `apply`, 20-rule tier", noop, noop5, 1.1),
        _pair(f"fresh `apply` of {count} rules, with the git commit", fresh, fresh5, 2),
        _pair(f"fresh `apply` of {count} rules, `--no-commit`", fresh_nocommit, fresh5_nocommit, 2),
        "",
        f"The disk's floor at the time: creating the same {count} files with plain Python "
        f"(open, write, close; no rulesync) took median {median(floor) * 1000:.0f} ms, "
        f"p95 {percentile(floor, 95) * 1000:.0f} ms over {len(floor)} runs, interleaved with "
        "the applies.",
        "",
        quiet_note(loads),
        "",
        "For scale, measured on this kind of machine: Node `rulesync generate --check` 0.72 s "
        "(21 rules); Node `rulesync generate` 2.9 s for 1,354 rules.",
    ]
    command = "python bench/bench_engine.py" + (" --engine-only" if args.engine_only else "")
    write_section("bench_engine", "\n".join(lines), command)
    if not args.engine_only:
        cold_start(args.runs, args.corpus, command)


if __name__ == "__main__":
    main()
