"""Shared by the benchmark scripts: timing helpers and writing their section of RESULTS.md."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"


def machine() -> str:
    """One line naming the machine, Python and git."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, {git.strip()}"
    )


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def wall(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one run of a command (which must succeed)."""
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def write_section(name: str, body: str, command: str = "") -> None:
    """Replace (or append) one section of RESULTS.md (`name`: the script's, or the script's
    and a part's, `bench_engine.start`), stamped with machine, date and the command run."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = command or f"python bench/{name}.py"
    section = (
        f"<!-- {name} -->\n{body.rstrip()}\n\n"
        f"_Measured {stamp} on {machine()} by `{command}`._\n<!-- /{name} -->"
    )
    text = (
        RESULTS.read_text(encoding="utf-8")
        if RESULTS.exists()
        else ("# Benchmark results\n\nWritten by the scripts in `bench/`.\n")
    )
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    print(section)
