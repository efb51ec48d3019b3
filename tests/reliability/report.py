"""Run the reliability suite and write its figures into docs/reliability.md.

    .venv/bin/python tests/reliability/report.py            # run, print, update the doc
    .venv/bin/python tests/reliability/report.py --print    # run and print only

The table between the `figures` markers of docs/reliability.md is replaced; the rest of the
document is left as it is. The figures come from the run itself (each scenario records its
trials and failures), never from hand-typed numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DOC = REPO / "docs" / "reliability.md"
START = "<!-- figures:start (written by tests/reliability/report.py) -->"
END = "<!-- figures:end -->"
COMMAND = ".venv/bin/python tests/reliability/report.py"


def run_suite(figures: Path) -> tuple[int, float, str]:
    """Run pytest on this folder; its exit code, wall seconds and last output line."""
    env = {**os.environ, "RULESYNC_RELIABILITY_FIGURES": str(figures)}
    env.pop("RULESYNC_RELIABILITY_SEEDS", None)
    started = time.monotonic()
    every_trial = ["-m", "slow or not slow"]  # the default run (addopts) leaves out the slow
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *every_trial, str(HERE)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
    return proc.returncode, seconds, lines[-1] if lines else ""


def _notes(row: dict[str, object]) -> str:
    detail = str(row.get("detail") or "")
    counts = row.get("counts") or {}
    assert isinstance(counts, dict)
    shown = "; ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    text = "; ".join(part for part in (detail, shown) if part)
    return text.replace("|", "\\|")


SECTIONS = (
    "Crash consistency",
    "Concurrency",
    "Hostile repositories",
    "Fuzzing (hypothesis)",
    "Git torture",
    "Storms",
)


def _order(row: dict[str, object]) -> int:
    section = str(row["section"])
    return SECTIONS.index(section) if section in SECTIONS else len(SECTIONS)


def table(rows: list[dict[str, object]]) -> str:
    """The Markdown table: one line per scenario, grouped by section."""
    lines = [
        "| Area | Scenario | Trials | Failures | Result | How / what was seen |",
        "|---|---|---:|---:|---|---|",
    ]
    for row in sorted(rows, key=_order):
        failures = int(str(row["failures"]))
        result = "pass" if failures == 0 else "**FAIL**"
        lines.append(
            f"| {row['section']} | {row['scenario']} | {row['trials']} | {failures} | "
            f"{result} | {_notes(row)} |"
        )
    return "\n".join(lines)


def git_describe() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return proc.stdout.strip() + (" + uncommitted changes" if dirty else "")


def block(rows: list[dict[str, object]], code: int, seconds: float, summary: str) -> str:
    trials = sum(int(str(r["trials"])) for r in rows)
    failures = sum(int(str(r["failures"])) for r in rows)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            START,
            "",
            f"Last run: {when}, `{COMMAND}` at {git_describe()}; "
            f"{seconds:.0f} s wall on {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{git_version.strip()}. pytest: {summary} (exit {code}). "
            f"{len(rows)} scenarios, {trials} trials, {failures} failed.",
            "",
            table(rows),
            "",
            END,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the table; leave the doc")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.json"
        code, seconds, summary = run_suite(figures)
        rows = json.loads(figures.read_text()) if figures.exists() else []
    text = block(rows, code, seconds, summary)
    print(text)
    if not args.print:
        doc = DOC.read_text(encoding="utf-8")
        if START not in doc or END not in doc:
            raise SystemExit(f"{DOC}: the figures markers are missing")
        before, rest = doc.split(START, 1)
        after = rest.split(END, 1)[1]
        DOC.write_text(before + text + after, encoding="utf-8")
        print(f"\nwrote {DOC.relative_to(REPO)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
