"""What the service costs, whatever its library and however many projects (SPEC §4): every
inotify watch is read through one instance by one thread, and a library is watched along a
bounded number of folders per project (a chain too long for that is checked on a timer). The
real service, counted from /proc."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest

from rulesync.daemon import MAX_PROJECT_WATCHES
from rulesync.daemon.schedule import STAMP_SLACK
from rulesync.library import STABLE_AFTER, load_library
from rulesync.registry import registry_path
from support.daemon import (
    Daemon,
    add_config,
    config_file,
    inotify_usage,
    new_project,
    wait_commits,
    wait_for,
)
from support.repos import git, rule_text, rulesync

# More tier folders than any sane bound on threads; each tier extends the one before it.
TIERS = 300
# The service's own threads, however many folders it watches: main, worker, the inotify reader
# (and its dispatcher from watchdog 7.1.1), a fetcher, with room for one more.
THREAD_BOUND = 6
# The registry's folder, plus what each of the two projects may watch.
WATCH_BOUND = 1 + 2 * MAX_PROJECT_WATCHES

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fdinfo").is_dir(), reason="counts threads and watches in /proc"
)


def _big_library(path: Path) -> Path:
    lines = ["version: 1", "tiers:"]
    for i in range(TIERS):
        (path / f"t{i}").mkdir(parents=True)
        (path / f"t{i}" / f"r{i}.mdc").write_text(rule_text(f"rule {i}", f"Rule {i}."))
        lines.append(f"  - name: t{i}")
        if i:
            lines.append(f"    extends: t{i - 1}")
    (path / "tiers.yaml").write_text("\n".join(lines) + "\n")
    return path


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _inotify_instances(pid: int) -> int:
    return inotify_usage(pid)[1]


def _inotify_watches(pid: int) -> int:
    return inotify_usage(pid)[0]


def test_a_300_tier_library_costs_a_bounded_number_of_threads_and_watches(
    tmp_path: Path, daemon: Daemon
) -> None:
    library = _big_library(tmp_path / "big")
    config_file().parent.mkdir(parents=True, exist_ok=True)
    # The user may raise the engine's tier cap; the service's bound must not rely on it.
    config_file().write_text(f"library: {library}\nmax_tiers: {TIERS}\n")
    long_chain = new_project(tmp_path / "long", phase=f"t{TIERS - 1}")
    short_chain = new_project(tmp_path / "short", phase="t3")
    daemon.start()
    assert wait_commits(long_chain, 1)[0].startswith(f"rulesync: install t{TIERS - 1} rules")
    assert wait_commits(short_chain, 1)[0].startswith("rulesync: install t3 rules")

    threads, watches = _threads(daemon.pid), _inotify_watches(daemon.pid)
    assert threads <= THREAD_BOUND, f"{threads} threads for a {TIERS}-tier library"
    assert watches <= WATCH_BOUND, f"{watches} inotify watches for a {TIERS}-tier library"

    # A rule edited in each project's own tier still reaches it: the short chain through its
    # watches, the long one through the timer's check.
    (library / "t3" / "r3.mdc").write_text(rule_text("rule 3", "Rule 3, revised."))
    (library / f"t{TIERS - 1}" / f"r{TIERS - 1}.mdc").write_text(
        rule_text("last rule", "The last rule, revised.")
    )
    for project in (short_chain, long_chain):
        assert wait_commits(project, 2)[0].startswith("rulesync: update t")
    assert "Rule 3, revised." in (short_chain / ".cursor/rules/r3.mdc").read_text()
    assert "Rule 3, revised." in (long_chain / ".cursor/rules/r3.mdc").read_text()
    last = long_chain / f".cursor/rules/r{TIERS - 1}.mdc"
    assert "The last rule, revised." in last.read_text()
    assert _threads(daemon.pid) <= THREAD_BOUND
    assert _inotify_watches(daemon.pid) <= WATCH_BOUND


def test_threads_and_inotify_instances_do_not_grow_with_the_projects(
    tmp_path: Path, library: Path, daemon: Daemon
) -> None:
    projects = [new_project(tmp_path / f"p{i}") for i in range(24)]
    daemon.start()
    for project in projects:
        assert wait_commits(project, 1)[0].startswith("rulesync: install basic rules")
    # Each project's root and rules folder are watched, all through one instance and thread.
    assert _inotify_watches(daemon.pid) >= 2 * len(projects)
    assert _inotify_instances(daemon.pid) == 1
    assert _threads(daemon.pid) <= THREAD_BOUND

    (projects[-1] / ".rulesync.yaml").write_text("phase: advanced\n")
    assert wait_commits(projects[-1], 2)[0].startswith("rulesync: phase basic → advanced")
    assert _threads(daemon.pid) <= THREAD_BOUND


def test_doctor_counts_the_folders_the_service_watches_from_what_the_load_read(
    tmp_path: Path, library: Path
) -> None:
    from rulesync import doctor
    from rulesync.config import load_config

    project = new_project(tmp_path / "p1")
    rulesync(project, "apply", check=0)
    registered = doctor.check_registry(load_config())
    assert registered.projects == 1 and registered.watched is not None
    real = os.path.realpath
    expected = {
        real(registry_path().parent),
        real(project),
        real(project / ".cursor/rules"),
        real(project / ".git"),
        real(library),
        *(real(library / tier) for tier in ("basic", "advanced", "enterprise")),
    }
    assert registered.watched == expected


def _in_sync(tmp_path: Path, count: int) -> list[Path]:
    """`count` registered projects already applied and committed, none changed within the
    time a filesystem's coarse clock may hide."""
    projects = [new_project(tmp_path / f"p{i}") for i in range(count)]
    for project in projects:
        rulesync(project, "apply", check=0)
    time.sleep(STAMP_SLACK + 0.1)  # sets the precondition; nothing is measured
    return projects


def _reads(daemon: Daemon, after: int, until: int | None = None) -> dict[str, int]:
    """How many syncs started for each project between two log positions."""
    records = daemon.records()[after:until]
    return Counter(r["project"] for r in records if r.get("event") == "sync.started")


def test_each_project_is_read_once_by_the_start_up_pass(
    tmp_path: Path, library: Path, daemon: Daemon
) -> None:
    # A project's rules folder is watched once its first sync has read it; a second read to
    # cover that moment is owed only when something in the folder changed since the sync began.
    add_config(log_level="debug")
    projects = _in_sync(tmp_path, 6)
    daemon.start()
    records = daemon.records()
    until = next(i for i, r in enumerate(records) if r.get("event") == "reconcile.done")
    assert _reads(daemon, 0, until) == {str(p): 1 for p in projects}
    assert records[until]["cause"] == "startup" and records[until]["read"] == len(projects)

    # A folder the first sync creates is still looked at once more after its watch exists.
    fresh = new_project(tmp_path / "fresh")
    assert wait_commits(fresh, 1)[0].startswith("rulesync: install basic rules")
    daemon.wait_event("sync.started", project=str(fresh), cause="rewatch")


def _timer_passes(daemon: Daemon, after: int, count: int) -> list[set[str]]:
    """The projects each of the next `count` timer passes after log position `after` read."""
    wait_for(
        f"{count} timer passes",
        lambda: len(daemon.events("reconcile.done", after=after, cause="timer")) >= count,
    )
    records = daemon.records()
    ends = [
        i
        for i, r in enumerate(records)
        if i >= after and r.get("event") == "reconcile.done" and r.get("cause") == "timer"
    ][:count]
    starts = [after, *(end + 1 for end in ends[:-1])]
    return [
        {r["project"] for r in records[start:end] if r.get("event") == "sync.started"}
        for start, end in zip(starts, ends, strict=True)
    ]


def test_the_reconcile_timer_reads_only_what_changed_and_the_rest_in_turn(
    tmp_path: Path, library: Path, daemon: Daemon
) -> None:
    add_config(log_level="debug", reconcile_interval=1)
    projects = _in_sync(tmp_path, 6)
    daemon.start()
    # With one-second passes, one unchanged project a pass is read in turn (so each is read
    # at least once an hour), not all six.
    passes = _timer_passes(daemon, daemon.mark(), 3)
    assert [len(read) for read in passes] == [1, 1, 1]
    assert set().union(*passes) <= {str(p) for p in projects}

    # HEAD moving is nothing a watch sees (the git dir is not watched): the next passes find
    # it, though the project was the last one read in turn (its turn is five passes away).
    moved = Path(next(iter(passes[-1])))
    git(moved, "commit", "-q", "--allow-empty", "-m", "elsewhere")
    later = _timer_passes(daemon, daemon.mark(), 2)
    assert str(moved) in later[0] | later[1]


def test_a_library_is_loaded_once_while_what_it_was_loaded_from_stays_as_it_was(
    library: Path,
) -> None:
    # The service loads the library of each of its projects at every sync: thousands of
    # times the same folder.
    time.sleep(STABLE_AFTER + 0.1)  # sets the precondition; nothing is measured
    first = load_library(library, "mine")
    assert load_library(library, "mine") is first
    assert load_library(library, "another label") is not first

    tiers = library / "tiers.yaml"
    tiers.write_text(tiers.read_text().replace("one developer", "one person"))
    changed = load_library(library, "mine")
    assert changed.tier("basic").description == "one person"
    # Read moments after a change, it is not kept: a second change within the clock's grain
    # could leave every time as it was.
    assert load_library(library, "mine") is not changed

    # A tier's folder replaced by a link to another is a change too.
    time.sleep(STABLE_AFTER + 0.1)
    kept = load_library(library, "mine")
    assert load_library(library, "mine") is kept
    (library / "basic").rename(library / "old-basic")
    (library / "basic").symlink_to(library / "advanced")
    assert load_library(library, "mine") is not kept
