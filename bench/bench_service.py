"""Service benchmarks: the real `rulesync daemon` on real repositories. Writes its section of
bench/RESULTS.md.

1. marker saved → rules written and committed: the time from just before the write until the
   branch ref moves (polled every 0.5 ms), over alternating phase edits;
2. an idle service with 100 registered projects: CPU time, wakeups (context switches of all
   its threads), RSS and inotify watches per project, read from /proc;
3. 500 marker writes paced over 1 s to one project: commits made, final phase applied.

    python bench/bench_service.py [--edits 60] [--projects 100] [--idle-seconds 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._results import median, percentile, write_section
from rulesync.registry import add_project
from support.env import isolated_env
from support.repos import make_library, rulesync_commits
from support.service import Daemon, manifest_tier, new_project

PHASES = ("basic", "advanced")


def wait_until(probe: Callable[[], bool], timeout: float, interval: float = 0.0005) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if probe():
            return True
        time.sleep(interval)
    return False


def read_ref(repo: Path) -> str:
    try:
        return (repo / ".git/refs/heads/main").read_text()
    except FileNotFoundError:
        return ""


# /proc readings --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def context_switches(pid: int) -> int:
    """Voluntary and involuntary switches summed over every thread: each is a wakeup."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def inotify_watches(pid: int) -> int:
    total = 0
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            total += info.read_text().count("inotify wd:")
        except OSError:
            continue
    return total


# The three measurements -------------------------------------------------------------------


def bench_latency(base: Path, edits: int) -> dict[str, Any]:
    repo = new_project(base / "latency")
    service = Daemon(base)
    try:
        service.start(wait=False).wait_event("reconcile.done", cause="startup", timeout=120)
        time.sleep(0.5)
        marker = repo / ".rulesync.yaml"
        spare = repo / ".rulesync.yaml.new"
        samples: dict[str, list[float]] = {"rewrite": [], "rename": []}
        missed = 0
        for i in range(edits):
            before = read_ref(repo)
            text = f"phase: {PHASES[(i + 1) % 2]}\n"
            style = "rewrite" if i % 2 == 0 else "rename"
            started = time.perf_counter()
            if style == "rewrite":
                marker.write_text(text)
            else:  # what sed -i and "safe write" editors do
                spare.write_text(text)
                os.replace(spare, marker)
            if wait_until(lambda b=before: read_ref(repo) not in ("", b), timeout=5):  # type: ignore[misc]
                samples[style].append(time.perf_counter() - started)
            else:
                missed += 1
            # Let the follow-up sync (the service's own writes) run before the next edit.
            time.sleep(0.25)
        tier_ok = manifest_tier(repo) == PHASES[edits % 2]
        return {"samples": samples, "missed": missed, "tier_ok": tier_ok}
    finally:
        service.stop()


def bench_burst(base: Path, writes: int) -> dict[str, Any]:
    repo = new_project(base / "burst")
    service = Daemon(base)
    try:
        service.start(wait=False).wait_event("reconcile.done", cause="startup", timeout=120)
        time.sleep(0.5)
        before = len(rulesync_commits(repo))
        marker = repo / ".rulesync.yaml"
        phases = ("advanced", "enterprise", "basic")
        final = "enterprise"
        started = time.perf_counter()
        for i in range(writes):
            phase = final if i == writes - 1 else phases[i % 3]
            marker.write_text(f"phase: {phase}\n")
            # Spread the writes over one second: the harder case for a debounce.
            slot = started + (i + 1) * (1.0 / writes)
            delay = slot - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        spread = time.perf_counter() - started
        applied = wait_until(lambda: manifest_tier(repo) == final, timeout=10, interval=0.01)
        time.sleep(2.0)  # anything still queued would commit within this
        failures = len([r for r in service.records() if r.get("event") == "sync.failed"])
        return {
            "commits": len(rulesync_commits(repo)) - before,
            "applied": applied and manifest_tier(repo) == final,
            "spread": spread,
            "failures": failures,
        }
    finally:
        service.stop()


def bench_idle(base: Path, projects: int, seconds: float) -> dict[str, Any]:
    for i in range(projects):
        add_project(new_project(base / "idle" / f"p{i:03d}", register=False))
    service = Daemon(base)
    try:
        service.start(wait=False).wait_event("reconcile.done", cause="startup", timeout=300)
        pid = service.pid
        # Settled: the follow-up syncs of the start-up's own writes are done once a whole
        # second passes without a single context switch.
        previous = context_switches(pid)
        for _ in range(60):
            time.sleep(1.0)
            now = context_switches(pid)
            if now == previous:
                break
            previous = now
        mark = service.mark()
        cpu0, switches0 = cpu_seconds(pid), context_switches(pid)
        quiet_seconds = 0
        previous = switches0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            now = context_switches(pid)
            quiet_seconds += now == previous
            previous = now
        cpu1, switches1 = cpu_seconds(pid), context_switches(pid)
        window = service.records()[mark:]
        return {
            "cpu": cpu1 - cpu0,
            "switches": switches1 - switches0,
            "quiet_seconds": quiet_seconds,
            "seconds": seconds,
            "rss_mib": status_field(pid, "VmRSS") / 1024,
            "threads": status_field(pid, "Threads"),
            "watches": inotify_watches(pid),
            "projects": projects,
            "reconciles": len([r for r in window if r.get("event") == "reconcile.done"]),
        }
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=500)
    args = parser.parse_args()
    # Not /tmp: file creation there is much slower on this machine, and projects live in the
    # user's folders anyway.
    work = Path(__file__).resolve().parent / ".work"
    work.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rulesync-service-", dir=work) as tmp:
        base = Path(tmp)
        env = isolated_env(base / "home")
        # The script runs as that user too: the service it starts and the log it reads.
        os.environ.clear()
        os.environ.update(env)
        library = make_library(base / "library")
        config = Path(env["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"library: {library}\n")

        latency = bench_latency(base, args.edits)
        burst = bench_burst(base, args.burst)
        idle = bench_idle(base, args.projects, args.idle_seconds)

    by_style = latency["samples"]
    samples = by_style["rewrite"] + by_style["rename"]
    p50, p95 = median(samples) * 1000, percentile(samples, 95) * 1000
    missed = f", {latency['missed']} missed" if latency["missed"] else ""
    styles = "; ".join(
        f"{name}: p50 {median(v) * 1000:.0f} ms, p95 {percentile(v, 95) * 1000:.0f} ms"
        for name, v in by_style.items()
        if v
    )
    per_project = idle["watches"] / idle["projects"]
    share = idle["cpu"] / idle["seconds"]
    # A reconcile pass may straddle two one-second samples.
    quiet_enough = idle["quiet_seconds"] >= idle["seconds"] - 2 * max(1, idle["reconciles"])
    rows = [
        (
            "marker saved → rules written **and committed**, p50",
            "—",
            f"{p50:.0f} ms ({styles})",
            None,
        ),
        (
            f"marker saved → rules written **and committed**, p95 ({len(samples)} edits{missed})",
            "≤ 100 ms",
            f"{p95:.0f} ms",
            p95 <= 100 and not latency["missed"],
        ),
        (
            f"idle, {idle['projects']} projects, {idle['seconds']:.0f} s: CPU time",
            "close to 0",
            f"{idle['cpu']:.2f} s ({share * 100:.2f} % of one core)",
            share < 0.01,
        ),
        (
            f"idle: wakeups (context switches of all {idle['threads']} threads)",
            "0 from polling",
            f"{idle['switches']} in all; {idle['quiet_seconds']:.0f} of "
            f"{idle['seconds']:.0f} one-second samples with none; "
            f"{idle['reconciles']} reconcile pass(es) in the window",
            quiet_enough,
        ),
        ("idle: RSS", "≤ 50 MiB", f"{idle['rss_mib']:.1f} MiB", idle["rss_mib"] <= 50),
        (
            "idle: inotify watches per project",
            "≤ 3",
            f"{per_project:.2f} ({idle['watches']} in all)",
            per_project <= 3,
        ),
        (
            f"{args.burst} marker writes in {burst['spread']:.2f} s → commits",
            "≤ 3",
            str(burst["commits"]),
            burst["commits"] <= 3,
        ),
        (
            "… and the final phase applied",
            "yes",
            "yes" if burst["applied"] else "no",
            burst["applied"],
        ),
    ]
    lines = [
        "## Service (`rulesync daemon`)",
        "",
        "| figure | target | measured | verdict |",
        "|---|---|---|---|",
        *(
            f"| {figure} | {target} | {value} | "
            f"{'—' if ok is None else 'met' if ok else '**missed**'} |"
            for figure, target, value, ok in rows
        ),
        "",
        "For scale: the Node `rulesync generate --watch` takes 315 ms p50 just to regenerate, "
        "with no commit, on this kind of machine; Node `rulesync` peaks at 160–200 MiB per run.",
        "",
        "Latency is the wall time from just before the marker write until `refs/heads/main` "
        "moves (the commit), polled every 0.5 ms. Edits alternate `basic` ↔ `advanced` "
        "(+2 ~1 / -2 ~1 rules), 250 ms apart, and alternate a plain rewrite with a rename "
        "onto the marker. A complete save after a quiet spell syncs at once; what follows "
        "within the 50 ms debounce (a burst, the service's own writes) is coalesced. The burst's "
        f"writes were plain rewrites paced evenly; {burst['failures']} sync(s) in it read a "
        "half-written marker and were retried. The idle window includes the reconcile timer "
        "(every 60 s), which re-reads every project: that pass is the window's CPU time and "
        "its wakeups.",
    ]
    write_section("bench_service", "\n".join(lines))


if __name__ == "__main__":
    main()
