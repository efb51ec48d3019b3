"""The service's decisions (debounce, backoff, which events matter, network filesystems) as
pure functions, and its watching and worker in-process with real watchdog observers."""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from rulesync.config import Config
from rulesync.daemon import (
    GIT_WATCH,
    LIBRARY_WATCH,
    MARKER_WATCH,
    REGISTRY_WATCH,
    RULES_WATCH,
    Changed,
    Fatal,
    Message,
    ProjectState,
    Reconciler,
    Stop,
    Watcher,
    backoff_delay,
    debounce_due,
    filesystem_type,
    is_relevant,
    needs_polling,
    parse_mountinfo,
    saves_marker,
)
from rulesync.logs import LOGGER, configure, get_logger
from support.daemon import DEADLINE, new_project
from support.repos import rulesync


@pytest.fixture
def json_log(tmp_path: Path) -> Iterator[Path]:
    """structlog configured to a JSON file for this test, reset afterwards."""
    path = tmp_path / "log" / "rulesync.log"
    configure("debug", log_file=path, console=False)
    try:
        yield path
    finally:
        for handler in list(logging.getLogger(LOGGER).handlers):
            logging.getLogger(LOGGER).removeHandler(handler)
            handler.close()
        structlog.reset_defaults()


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# Debounce and backoff ------------------------------------------------------------------------


def test_debounce_waits_for_quiet_but_a_continuous_storm_still_syncs() -> None:
    # One save: synced 50 ms after its last event.
    assert debounce_due(10.0, 10.002, 0.05, 1.0) == pytest.approx(10.052)
    # A burst keeps pushing the sync back while events keep coming...
    assert debounce_due(10.0, 10.4, 0.05, 1.0) == pytest.approx(10.45)
    # ...but never further than max_delay after it began.
    assert debounce_due(10.0, 10.99, 0.05, 1.0) == pytest.approx(11.0)


def test_backoff_doubles_from_its_base_and_is_capped() -> None:
    assert [backoff_delay(n, 1.0, cap=60) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(1, 0.25) == 0.25


def _idle_project() -> ProjectState:
    return ProjectState(root=Path("/p"))


def _not_busy() -> bool:
    return False


def test_a_complete_save_after_a_quiet_spell_syncs_at_once() -> None:
    project = _idle_project()
    # A plain rewrite: truncate and write (modified), then close (saved).
    for saved in (False, False, True):
        project.on_event(100.0, MARKER_WATCH, 0.05, _not_busy, saved=saved)
    assert project.due(0.05, 1.0) == 100.0 and project.cause == MARKER_WATCH


def test_a_modification_without_a_save_is_debounced() -> None:
    project = _idle_project()
    project.on_event(100.0, MARKER_WATCH, 0.05, _not_busy)
    assert project.due(0.05, 1.0) == pytest.approx(100.05)


def test_saves_soon_after_a_sync_are_coalesced_even_in_a_storm() -> None:
    project = _idle_project()
    project.on_event(100.0, MARKER_WATCH, 0.05, _not_busy, saved=True)
    project.clear()
    project.last_activity = 100.03  # the first sync ended here
    for i in range(500):
        project.on_event(100.03 + i * 0.002, MARKER_WATCH, 0.05, _not_busy, saved=True)
    assert project.due(0.05, 1.0) == pytest.approx(101.03)


def test_a_save_while_git_is_busy_is_debounced() -> None:
    project = _idle_project()
    project.on_event(100.0, MARKER_WATCH, 0.05, lambda: True, saved=True)
    assert project.due(0.05, 1.0) == pytest.approx(100.05)


@pytest.mark.parametrize(
    ("event_type", "src", "dest", "saved"),
    [
        ("closed", ".rulesync.yaml", "", True),  # a plain rewrite, or vim's new file
        ("moved", "sedXy12Ab", ".rulesync.yaml", True),  # sed -i, safe-write editors
        ("moved", ".rulesync.yaml", ".rulesync.yaml~", False),  # vim's backup rename
        ("modified", ".rulesync.yaml", "", False),  # more writes may follow
        ("created", ".rulesync.yaml", "", False),  # still empty
        ("closed", ".rulesync.yaml.swp", "", False),
    ],
)
def test_which_events_leave_a_complete_marker(
    event_type: str, src: str, dest: str, saved: bool
) -> None:
    assert saves_marker(event_type, src, dest) is saved


# Which events matter -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "names", "expected"),
    [
        # vim: the old marker renamed to its backup, then a new file written, backup deleted
        (MARKER_WATCH, {".rulesync.yaml", ".rulesync.yaml~"}, True),
        (MARKER_WATCH, {".rulesync.yaml~"}, False),
        (MARKER_WATCH, {".rulesync.yaml.swp"}, False),
        (MARKER_WATCH, {"4913"}, False),
        # sed -i: a temporary file renamed onto the marker
        (MARKER_WATCH, {"sedAb12Cd", ".rulesync.yaml"}, True),
        (MARKER_WATCH, {"README.md"}, False),
        # .cursor/rules: any rule or the manifest; our own temporary files only on their rename
        (RULES_WATCH, {"privacy.mdc"}, True),
        (RULES_WATCH, {".rulesync-tmp-x1"}, False),
        (RULES_WATCH, {".rulesync-tmp-x1", "privacy.mdc"}, True),
        (LIBRARY_WATCH, {"testing.mdc"}, True),
        (LIBRARY_WATCH, {"tiers.yaml"}, True),
        (LIBRARY_WATCH, {"README.md"}, False),
        # the git dir: the files that make a repository busy, never rulesync's own lock
        (GIT_WATCH, {"rebase-merge"}, True),
        (GIT_WATCH, {"index.lock", "index"}, True),
        (GIT_WATCH, {"HEAD.lock", "HEAD"}, True),
        (GIT_WATCH, {"rulesync.lock"}, False),
        (GIT_WATCH, {"ORIG_HEAD"}, False),
        (REGISTRY_WATCH, {"projects.yaml"}, True),
        (REGISTRY_WATCH, {"config.yaml"}, False),
    ],
)
def test_only_events_that_can_change_a_sync_wake_the_service(
    kind: str, names: set[str], expected: bool
) -> None:
    assert is_relevant(kind, names, is_self=False) is expected


def test_a_watched_folder_going_away_always_matters() -> None:
    assert is_relevant(MARKER_WATCH, {"p1"}, is_self=True)


# Network filesystems -------------------------------------------------------------------------

MOUNTINFO = """\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
40 22 0:35 / /mnt/nfs rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2
41 22 0:36 / /home/ann/remote rw,nosuid,nodev shared:21 - fuse.sshfs ann@box:/srv rw
42 22 0:37 / /mnt/team\\040share rw shared:22 - cifs //nas/team rw
43 40 0:38 / /mnt/nfs/local rw - tmpfs tmpfs rw
"""


def test_mountinfo_names_the_filesystem_under_each_path() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert ("/mnt/team share", "cifs") in mounts
    assert filesystem_type("/home/ann/code/app", mounts) == "ext4"
    assert filesystem_type("/mnt/nfs/projects/app", mounts) == "nfs4"
    assert filesystem_type("/mnt/nfs/local/app", mounts) == "tmpfs"
    assert filesystem_type("/mnt/nfsother/app", mounts) == "ext4"
    assert filesystem_type("/home/ann/remote/app", mounts) == "fuse.sshfs"
    assert filesystem_type("/mnt/team share/app", mounts) == "cifs"


@pytest.mark.parametrize(
    ("fstype", "polled"),
    [
        ("nfs", True),
        ("nfs4", True),
        ("cifs", True),
        ("smb3", True),
        ("fuse.sshfs", True),
        ("9p", True),
        ("ext4", False),
        ("btrfs", False),
        ("tmpfs", False),
        ("overlay", False),
        ("fuse.portal", False),
    ],
)
def test_network_filesystems_are_polled(fstype: str, polled: bool) -> None:
    assert needs_polling(fstype) is polled


# Watching, with real observers ---------------------------------------------------------------


@pytest.fixture
def watcher(json_log: Path) -> Iterator[tuple[Watcher, queue.Queue[Message]]]:
    """A real Watcher posting to a queue, stopped afterwards."""
    items: queue.Queue[Message] = queue.Queue()
    watching = Watcher(items.put, get_logger())
    watching.start()
    try:
        yield watching, items
    finally:
        watching.stop(timeout=5)


def _next(items: queue.Queue[Message]) -> Message:
    return items.get(timeout=DEADLINE)


def test_a_folder_two_projects_use_is_watched_once_and_wakes_both(
    tmp_path: Path, watcher: tuple[Watcher, queue.Queue[Message]]
) -> None:
    watching, items = watcher
    shared = tmp_path / "library" / "basic"
    shared.mkdir(parents=True)
    watching.subscribe("p1", {str(shared): LIBRARY_WATCH})
    watching.subscribe("p2", {str(shared): LIBRARY_WATCH})
    assert watching.watch_count() == 1

    (shared / "logging.mdc").write_text("x\n")
    woken = {_next(items), _next(items)}
    assert woken == {Changed("p1", LIBRARY_WATCH), Changed("p2", LIBRARY_WATCH)}

    watching.forget("p1")
    assert watching.watch_count() == 1
    watching.forget("p2")
    assert watching.watch_count() == 0


def test_a_folder_deleted_and_created_again_is_watched_anew(
    tmp_path: Path, watcher: tuple[Watcher, queue.Queue[Message]]
) -> None:
    watching, items = watcher
    root = tmp_path / "project"
    root.mkdir()
    assert watching.subscribe("p1", {str(root): MARKER_WATCH}) == [str(root)]
    assert watching.subscribe("p1", {str(root): MARKER_WATCH}) == []  # already watched
    shutil.rmtree(root)
    assert _next(items) == Changed("p1", MARKER_WATCH)  # the folder itself went away
    root.mkdir()
    assert watching.subscribe("p1", {str(root): MARKER_WATCH}) == [str(root)]
    (root / ".rulesync.yaml").write_text("phase: basic\n")
    assert _next(items) in (Changed("p1", MARKER_WATCH), Changed("p1", MARKER_WATCH, True))


def test_a_failing_handler_logs_what_went_wrong_and_keeps_the_observer_alive(
    tmp_path: Path, json_log: Path
) -> None:
    delivered: queue.Queue[Message] = queue.Queue()
    calls = [0]

    def post(message: Message) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("the queue refused it")
        delivered.put(message)

    watching = Watcher(post, get_logger())
    watching.start()
    try:
        folder = tmp_path / "library" / "basic"
        folder.mkdir(parents=True)
        watching.subscribe("p1", {str(folder): LIBRARY_WATCH})
        (folder / "first.mdc").write_text("x\n")
        assert _next(delivered) == Changed("p1", LIBRARY_WATCH)  # a later event still arrives
        assert watching.alive()
    finally:
        watching.stop(timeout=5)
    (failure,) = [r for r in _records(json_log) if r["event"] == "watch.handler_failed"]
    assert failure["level"] == "error" and "the queue refused it" in failure["exception"]
    assert failure["folder"] == str(folder)


def test_a_rules_folder_a_sync_recreated_is_looked_at_once_more_after_it_is_watched(
    tmp_path: Path, library: Path, json_log: Path
) -> None:
    # A rule deleted between the sync that recreated the folder and the new watch would be
    # unseen until the reconcile; the worker closes that gap with one more (no-op) sync.
    root = new_project(tmp_path / "p1", register=False)
    service = Reconciler(Config(library=str(library), libraries=(library,)))
    service.watcher.start()
    try:
        project = service.add(root, 0.0, "test")
        service.sync(project)  # creates the rules folder: watched anew, so looked at again
        assert project.pending_at is not None and project.cause == "rewatch"
        service.sync(project)
        assert project.pending_at is None  # nothing watched anew: no endless look-again
        rules = root / ".cursor" / "rules"
        shutil.rmtree(rules)
        service.sync(project)  # recreates the folder, then watches it anew
        assert (rules / "privacy.mdc").is_file()
        assert project.pending_at is not None and project.cause == "rewatch"
        (rules / "privacy.mdc").unlink()  # as if in the gap, before the watch existed
        service.sync(project)
        assert (rules / "privacy.mdc").is_file()
        assert project.pending_at is None
    finally:
        service.watcher.stop(timeout=5)


def test_a_dead_observer_makes_the_service_exit_non_zero(
    tmp_path: Path, library: Path, json_log: Path
) -> None:
    # No outside action makes watchdog's thread crash for real, so the test ends the real
    # observer thread itself; the service must notice at its next reconcile and give up.
    new_project(tmp_path / "p1")
    config = Config(library=str(library), libraries=(library,), reconcile_interval=1.0)
    service = Reconciler(config)
    outcome: list[int] = []
    worker = threading.Thread(target=lambda: outcome.append(service.run()), daemon=True)
    worker.start()
    assert service.started.wait(DEADLINE)
    assert service.watcher.inotify is not None
    service.watcher.inotify.stop()
    worker.join(DEADLINE)
    assert outcome == [1]
    events = [r["event"] for r in _records(json_log)]
    assert "observer.died" in events
    assert events[-1] == "daemon.stopped"


@pytest.mark.parametrize(("message", "exit_code"), [(Stop("done"), 0), (Fatal("done"), 1)])
def test_a_stop_and_a_fatal_error_are_told_apart_though_they_carry_the_same_words(
    message: Message, exit_code: int, library: Path, json_log: Path
) -> None:
    # Messages are tuples, so these two are equal as values; the worker dispatches on their
    # kind, and only the fatal one makes the service exit non-zero.
    service = Reconciler(Config(library=str(library), libraries=(library,)))
    service.queue.put(message)
    assert service.run() == exit_code
    stopped = [r for r in _records(json_log) if r["event"] == "daemon.stopped"]
    assert [(r["reason"], r["exit_code"]) for r in stopped] == [("done", exit_code)]


def test_the_json_log_has_one_record_per_line_with_its_fields(json_log: Path) -> None:
    get_logger(project="/p").info("sync.applied", phase="basic", added=3, commit=None)
    (record,) = _records(json_log)
    assert record["event"] == "sync.applied" and record["level"] == "info"
    assert (record["project"], record["phase"], record["added"]) == ("/p", "basic", 3)
    assert record["commit"] is None and record["timestamp"].endswith("Z")


def test_a_project_watches_a_bounded_number_of_nested_rule_folders(
    tmp_path: Path, library: Path
) -> None:
    from rulesync.daemon import MAX_PROJECT_WATCHES, plan_watches
    from rulesync.project import NESTED_RULE_FOLDERS
    from rulesync.sync import inspect

    for index in range(NESTED_RULE_FOLDERS + 4):
        folder = library / "basic" / f"area{index:02}"
        folder.mkdir()
        (folder / "rule.mdc").write_text("---\ndescription: d\n---\nA rule.\n")
    project = new_project(tmp_path / "p1")
    rulesync(project, "apply", check=0)  # the folders exist: watched, up to the bound
    loaded = inspect(project, Config(library=str(library)))[0]
    folders = loaded.inputs.target_folders
    assert folders[0] == ".cursor/rules"
    assert folders[1:] == tuple(f".cursor/rules/area{i:02}" for i in range(NESTED_RULE_FOLDERS))
    watched = plan_watches(project, loaded.inputs, None, None).watched
    assert sum("/.cursor/rules/area" in path for path in watched) == NESTED_RULE_FOLDERS
    assert len(watched) <= MAX_PROJECT_WATCHES
