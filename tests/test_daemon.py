"""The service (SPEC §4), end to end: the real `rulesync daemon` in a subprocess, driven by
editing files for real (vim, sed, git), judged from git history and the service's JSON log."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rulesync.runtime import read_status
from support.daemon import (
    DEADLINE,
    Daemon,
    add_config,
    config_file,
    manifest_tier,
    new_project,
    set_phase,
    wait_commits,
    wait_for,
)
from support.repos import git, make_library, rulesync
from support.repos import rulesync_commits as commits


@pytest.fixture
def daemon(daemon: Daemon, library: Path) -> Daemon:
    """The shared service, for a user whose default library is the small one."""
    return daemon


def test_startup_syncs_registered_projects_logs_it_and_status_shows_the_service(
    tmp_path: Path, daemon: Daemon
) -> None:
    project = new_project(tmp_path / "p1")
    daemon.start()
    assert commits(project) == ["rulesync: install basic rules (+3)"]
    record = daemon.wait_event("sync.applied", project=str(project))
    assert record["phase"] == "basic" and record["tier"] == "basic"
    assert (record["added"], record["updated"], record["deleted"]) == (3, 0, 0)
    assert record["commit"] == git(project, "rev-parse", "HEAD").strip()
    assert record["duration_ms"] > 0 and record["level"] == "info" and record["timestamp"]

    status = wait_for("the status file", lambda: read_status().get(str(project)))
    assert status["tier"] == "basic" and status["commit"] == record["commit"]
    shown = rulesync(project, "status", check=0).stdout
    after = read_status()[str(project)]["last_sync"]
    assert f"running (pid {daemon.pid})" in shown
    # The service may sync the project again meanwhile (a look after watching a new folder,
    # a reconcile): status shows a time the status file held while it ran.
    line = next(x for x in shown.splitlines() if "last synced this project: " in x)
    assert status["last_sync"] <= line.split("last synced this project: ")[1] <= after


def test_the_startup_reconcile_is_done_once_the_look_after_new_watches_has_run(
    tmp_path: Path, daemon: Daemon
) -> None:
    add_config(log_level="debug")
    project = new_project(tmp_path / "p1")
    daemon.start()
    seen = [
        (r["event"], r.get("cause"))
        for r in daemon.records()
        if r.get("project") == str(project) or r.get("event") == "reconcile.done"
    ]
    done = seen.index(("reconcile.done", "startup"))
    # The install created .cursor/rules, watched only after it existed: the service looks
    # once more, and the reconcile is not done (nor `start` back) before that look.
    assert ("sync.applied", "startup") in seen[:done]
    assert ("sync.noop", "rewatch") in seen[:done]


def test_vim_saving_by_rename_changes_the_phase(tmp_path: Path, daemon: Daemon) -> None:
    project = new_project(tmp_path / "p1")
    daemon.start()
    marker = project / ".rulesync.yaml"
    inode = marker.stat().st_ino
    # backupskip is emptied because its default skips /tmp, where vim would write in place.
    subprocess.run(
        [
            "vim", "-u", "NONE", "-N", "-n", "-i", "NONE", "-es",
            "-c", "set backupskip= backupcopy=no writebackup nobackup",
            "-c", "%s/basic/advanced/",
            "-c", "wq",
            str(marker),
        ],
        check=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=30,
    )  # fmt: skip
    assert marker.stat().st_ino != inode, "vim did not save by rename"
    assert wait_commits(project, 2)[0] == "rulesync: phase basic → advanced (+2 ~1 -0)"
    assert manifest_tier(project) == "advanced"


def test_sed_in_place_changes_the_phase(tmp_path: Path, daemon: Daemon) -> None:
    project = new_project(tmp_path / "p1")
    daemon.start()
    subprocess.run(["sed", "-i", "s/basic/enterprise/", ".rulesync.yaml"], cwd=project, check=True)
    assert wait_commits(project, 2)[0].startswith("rulesync: phase basic → enterprise")
    assert (project / ".cursor/rules/deployment-scale.mdc").is_file()


def test_plain_rewrite_syncs_and_the_services_own_writes_make_no_extra_commit(
    tmp_path: Path, daemon: Daemon
) -> None:
    add_config(log_level="debug")
    project = new_project(tmp_path / "p1")
    daemon.start()
    mark = daemon.mark()
    set_phase(project, "advanced")
    applied = daemon.wait_event("sync.applied", after=mark, project=str(project))
    assert applied["phase"] == "advanced" and applied["commit"]
    assert applied["cause"] == "marker"  # a complete save is a marker change like any other
    # Writing .cursor/rules wakes the service once more; that sync must find nothing to do.
    after = daemon.mark()
    noop = daemon.wait_event("sync.noop", after=mark, project=str(project), cause="rules")
    assert noop["commit"] is None
    assert len(commits(project)) == 2
    assert not daemon.events("sync.applied", after=after)
    assert git(project, "status", "--porcelain") == ""


def test_git_checkout_of_a_branch_with_another_phase(tmp_path: Path, daemon: Daemon) -> None:
    project = new_project(tmp_path / "p1")
    git(project, "checkout", "-q", "-b", "grown-up")
    set_phase(project, "advanced")
    git(project, "commit", "-q", "-am", "we are a team now")
    git(project, "checkout", "-q", "main")
    daemon.start()
    assert commits(project) == ["rulesync: install basic rules (+3)"]

    git(project, "checkout", "-q", "grown-up")
    subjects = wait_commits(project, 1)
    assert subjects[0].startswith("rulesync: install advanced rules")
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD").strip() == "grown-up"
    assert manifest_tier(project) == "advanced"
    assert git(project, "status", "--porcelain") == ""


def test_a_deleted_managed_rule_comes_back_without_a_commit(
    tmp_path: Path, daemon: Daemon, library: Path
) -> None:
    project = new_project(tmp_path / "p1")
    daemon.start()
    rules = project / ".cursor/rules"
    rule = rules / "privacy.mdc"

    def restored(remove: Callable[[], object], added: int) -> None:
        mark = daemon.mark()
        remove()
        daemon.wait_event("sync.applied", after=mark, project=str(project), added=added)
        assert rule.read_bytes() == (library / "basic/privacy.mdc").read_bytes()

    def remove_folder() -> None:
        # In one step (a file-by-file delete could race the service restoring it), then a
        # rule in the folder created anew (often with the same inode).
        rules.rename(tmp_path / "gone")
        shutil.rmtree(tmp_path / "gone")

    restored(rule.unlink, 1)
    restored(remove_folder, 3)
    restored(rule.unlink, 1)
    assert len(commits(project)) == 1
    assert git(project, "status", "--porcelain") == ""


def test_a_rule_deleted_in_a_tier_subfolder_comes_back_at_once(
    tmp_path: Path, daemon: Daemon, library: Path
) -> None:
    (library / "basic" / "frontend" / "web").mkdir(parents=True)
    react = library / "basic" / "frontend" / "web" / "react.mdc"
    react.write_text("---\ndescription: react\n---\nUse hooks.\n")
    add_config(reconcile_interval=3600)  # only a watch can bring it back within the test
    project = new_project(tmp_path / "p1")
    daemon.start()
    written = project / ".cursor/rules/frontend/web/react.mdc"
    wait_for("the nested rule", written.is_file)

    def remove_folder() -> None:
        # In one step: a file-by-file delete could race the service restoring the file.
        written.parent.rename(tmp_path / "gone")
        shutil.rmtree(tmp_path / "gone")

    for remove in (written.unlink, remove_folder):
        mark = daemon.mark()
        remove()
        daemon.wait_event("sync.applied", after=mark, project=str(project), added=1)
        assert written.read_bytes() == react.read_bytes()
    assert len(commits(project)) == 1


def test_a_managed_rule_the_user_edited_is_left_alone_and_reported_once(
    tmp_path: Path, daemon: Daemon
) -> None:
    project = new_project(tmp_path / "p1")
    daemon.start()
    mark = daemon.mark()
    rule = project / ".cursor/rules/privacy.mdc"
    rule.write_text("my own words\n")
    record = daemon.wait_event("sync.conflict", after=mark, project=str(project))
    assert record["paths"] == [".cursor/rules/privacy.mdc"] and record["level"] == "warning"
    set_phase(project, "advanced")
    applied = daemon.wait_event("sync.applied", after=mark, project=str(project), phase="advanced")
    assert applied["level"] == "warning" and applied["conflicts"] == 1  # not in sync: not news
    assert rule.read_text() == "my own words\n"
    assert wait_for(
        "the conflict in the status file", lambda: read_status()[str(project)]["conflicts"]
    )
    assert len(daemon.events("sync.conflict", after=mark)) == 1


def test_an_edited_library_rule_reaches_every_project_with_one_commit_each(
    tmp_path: Path, daemon: Daemon, library: Path
) -> None:
    add_config(log_level="debug")
    first, second = new_project(tmp_path / "p1"), new_project(tmp_path / "p2")
    daemon.start()
    mark = daemon.mark()
    (library / "basic/testing.mdc").write_text("---\ndescription: tests\n---\nUse pytest.\n")
    for project in (first, second):
        assert wait_commits(project, 2)[0] == "rulesync: update basic rules (~1)"
        assert (project / ".cursor/rules/testing.mdc").read_text().endswith("Use pytest.\n")
        # The follow-up sync from our own writes has run and found nothing: no second commit.
        daemon.wait_event("sync.noop", after=mark, project=str(project), cause="rules")
        assert len(commits(project)) == 2
        assert len(daemon.events("sync.applied", after=mark, project=str(project))) == 1


def test_a_library_served_from_git_is_fetched_on_a_timer_and_reaches_every_project(
    tmp_path: Path, daemon: Daemon
) -> None:
    bare, work = tmp_path / "team-rules.git", tmp_path / "team-rules"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    make_library(work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "-c", "user.name=Lead", "-c", "user.email=lead@example.com", "commit", "-qm", "v1")
    git(work, "push", "-q", str(bare), "main")
    config_file().write_text(f"library: 'file://{bare}#main'\nfetch_interval: 10\n")
    projects = [new_project(tmp_path / f"p{i}") for i in range(2)]
    daemon.start()
    old = git(work, "rev-parse", "HEAD").strip()
    (work / "basic/testing.mdc").write_text("---\ndescription: tests\n---\nUse pytest.\n")
    git(work, "-c", "user.name=Lead", "-c", "user.email=lead@example.com", "commit", "-qam", "v2")
    git(work, "push", "-q", str(bare), "main")
    new = git(work, "rev-parse", "HEAD").strip()
    daemon.wait_event("library.fetched", revision=new, timeout=30)
    for project in projects:
        subjects = wait_commits(project, 2)
        assert subjects == [f"rulesync: library {old[:7]} → {new[:7]} (~1)", subjects[1]]
        assert (project / ".cursor/rules/testing.mdc").read_text().endswith("Use pytest.\n")


def test_projects_added_and_removed_at_runtime(tmp_path: Path, daemon: Daemon) -> None:
    first = new_project(tmp_path / "p1")
    later = new_project(tmp_path / "p2", register=False)
    daemon.start()
    assert commits(later) == []

    mark = daemon.mark()
    rulesync(later, "projects", "add", str(later), check=0)
    assert wait_commits(later, 1) == ["rulesync: install basic rules (+3)"]
    daemon.wait_event("registry.reloaded", after=mark, added=[str(later)])

    mark = daemon.mark()
    rulesync(later, "projects", "remove", str(later), check=0)
    daemon.wait_event("registry.reloaded", after=mark, removed=[str(later)])
    set_phase(later, "advanced")
    set_phase(first, "advanced")
    wait_commits(first, 2)
    daemon.wait_event("sync.applied", after=mark, project=str(first))
    assert not daemon.events("sync.started", after=mark, project=str(later))
    assert commits(later) == ["rulesync: install basic rules (+3)"]
    wait_for(
        "the removed project gone from the status file", lambda: str(later) not in read_status()
    )


def test_a_broken_marker_is_retried_while_other_projects_keep_syncing(
    tmp_path: Path, daemon: Daemon
) -> None:
    add_config(log_level="debug")
    broken, healthy = new_project(tmp_path / "broken"), new_project(tmp_path / "healthy")
    daemon.start()
    mark = daemon.mark()
    (broken / ".rulesync.yaml").write_text("phse: advanced\n")
    failed = daemon.wait_event("sync.failed", after=mark, project=str(broken))
    assert "phse" in failed["error"] and failed["retry_in"] > 0 and failed["level"] == "warning"
    # The marker is watched: a retry meeting the same error is not news.
    retried = daemon.wait_event("sync.failed", after=mark, project=str(broken), attempt=3)
    assert retried["retry_in"] > failed["retry_in"] and retried["level"] == "debug"
    warned = daemon.events("sync.failed", after=mark, project=str(broken), level="warning")
    assert len(warned) == 1
    assert wait_for("the error in the status file", lambda: read_status()[str(broken)]["error"])

    set_phase(healthy, "advanced")
    assert wait_commits(healthy, 2)[0].startswith("rulesync: phase basic → advanced")

    set_phase(broken, "enterprise")
    assert wait_commits(broken, 2)[0].startswith("rulesync: phase basic → enterprise")
    daemon.wait_event("sync.recovered", after=mark, project=str(broken))
    # The status file is written once the worker's pass is over, just after the log line.
    wait_for(
        "the error cleared in the status file", lambda: not read_status()[str(broken)]["error"]
    )


def test_moved_and_deleted_project_folders_are_retried_while_others_keep_syncing(
    tmp_path: Path, daemon: Daemon
) -> None:
    # Moving a folder leaves nothing in it to notice: the reconcile timer is what finds it.
    add_config(reconcile_interval=1)
    moved, deleted, healthy = (new_project(tmp_path / n) for n in ("moved", "deleted", "ok"))
    daemon.start()
    mark = daemon.mark()
    moved.rename(tmp_path / "elsewhere")
    # Gone in one step, then removed: a sync already running may still write into it (git's
    # objects), so the removal is retried until nothing is left.
    deleted.rename(tmp_path / "trash")
    wait_for(
        "the deleted project removed",
        lambda: (
            shutil.rmtree(tmp_path / "trash", ignore_errors=True)
            or not (tmp_path / "trash").exists()
        ),
    )
    for project in (moved, deleted):
        wait_for(
            f"{project.name} to fail as missing",
            lambda p=project: any(  # type: ignore[misc]
                "project folder is missing" in r["error"]
                for r in daemon.events("sync.failed", after=mark, project=str(p))
            ),
        )

    set_phase(healthy, "advanced")
    assert wait_commits(healthy, 2)[0].startswith("rulesync: phase basic → advanced")

    (tmp_path / "elsewhere").rename(moved)
    daemon.wait_event("sync.recovered", after=mark, project=str(moved))
    set_phase(moved, "enterprise")
    assert wait_commits(moved, 2)[0].startswith("rulesync: phase basic → enterprise")


def test_a_repository_mid_rebase_is_deferred_then_synced_once_the_rebase_ends(
    tmp_path: Path, daemon: Daemon
) -> None:
    project = new_project(tmp_path / "p1")
    daemon.start()
    (project / "app.py").write_text("print('hello')\n")
    git(project, "add", "app.py")
    git(project, "commit", "-q", "-m", "app")
    env = {**os.environ, "GIT_EDITOR": "true", "GIT_SEQUENCE_EDITOR": "sed -i -e s/^pick/edit/"}
    subprocess.run(
        ["git", "rebase", "-q", "-i", "HEAD~1"], cwd=project, env=env, check=True, timeout=30
    )
    assert (project / ".git/rebase-merge").is_dir()

    mark = daemon.mark()
    set_phase(project, "advanced")
    deferred = daemon.wait_event("sync.deferred", after=mark, project=str(project))
    assert "rebase is in progress" in deferred["reason"]
    assert manifest_tier(project) == "basic"
    assert len(commits(project)) == 1

    git(project, "add", ".rulesync.yaml")
    subprocess.run(
        ["git", "commit", "-q", "--amend", "--no-edit"], cwd=project, env=env, check=True
    )
    subprocess.run(["git", "rebase", "--continue"], cwd=project, env=env, check=True, timeout=30)
    assert not (project / ".git/rebase-merge").exists()
    subjects = wait_commits(project, 2)
    assert subjects[0].startswith("rulesync: phase basic → advanced")
    assert git(project, "log", "-1", "--format=%s", "HEAD~1").strip() == "app"
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_sigterm_lets_the_sync_in_progress_finish_and_exits_zero(
    tmp_path: Path, daemon: Daemon
) -> None:
    add_config(log_level="debug", run_hooks=True)
    project = new_project(tmp_path / "p1")
    hook = project / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\nsleep 1\n")
    hook.chmod(0o755)
    daemon.start()
    mark = daemon.mark()
    set_phase(project, "advanced")
    daemon.wait_event("sync.started", after=mark, project=str(project))
    daemon.signal(signal.SIGTERM)
    assert daemon.proc is not None
    assert daemon.proc.wait(timeout=DEADLINE) == 0
    assert commits(project)[0].startswith("rulesync: phase basic → advanced")
    stopped = daemon.wait_event("daemon.stopped", after=mark)
    assert stopped["reason"] == "SIGTERM" and stopped["exit_code"] == 0


def test_sigint_exits_zero_and_removes_the_pid_file(tmp_path: Path, daemon: Daemon) -> None:
    from rulesync.runtime import pid_path, running_pid

    new_project(tmp_path / "p1")
    daemon.start()
    assert running_pid() == daemon.pid
    daemon.signal(signal.SIGINT)
    assert daemon.proc is not None
    assert daemon.proc.wait(timeout=DEADLINE) == 0
    assert not pid_path().exists()


def test_sighup_reloads_the_config(tmp_path: Path, daemon: Daemon) -> None:
    project = new_project(tmp_path / "p1")
    daemon.start()
    add_config(commit_author="Rules Robot <robot@example.com>")
    mark = daemon.mark()
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("config.reloaded", after=mark, trigger="signal")
    daemon.wait_event("registry.reloaded", after=mark, trigger="signal")
    set_phase(project, "advanced")
    wait_for(
        "a commit by the reloaded author",
        lambda: git(project, "log", "-1", "--format=%ae").strip() == "robot@example.com",
    )


def test_a_second_instance_refuses_to_start_and_names_the_first(
    tmp_path: Path, daemon: Daemon
) -> None:
    new_project(tmp_path / "p1")
    daemon.start()
    second = rulesync(tmp_path, "daemon", check=2, timeout=30)
    assert f"pid {daemon.pid}" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert daemon.proc is not None and daemon.proc.poll() is None


def test_a_burst_of_marker_writes_ends_in_the_final_phase(tmp_path: Path, daemon: Daemon) -> None:
    project = new_project(tmp_path / "p1")
    daemon.start()
    phases = ["advanced", "basic", "enterprise"]
    for i in range(150):
        set_phase(project, phases[i % 3])
    set_phase(project, "enterprise")
    wait_for("the final phase", lambda: manifest_tier(project) == "enterprise")
    wait_for("its commit", lambda: "enterprise" in commits(project)[0])
    # How many syncs the burst coalesces into depends on the machine's load; what must hold
    # is that each commit records a real change from the phase the one before left.
    oldest, *changes = reversed(commits(project))
    assert oldest.startswith("rulesync: install basic rules")
    tier = "basic"
    for subject in changes:
        moved = re.match(r"rulesync: phase (\w+) → (\w+) ", subject)
        assert moved is not None and moved[1] == tier != moved[2], subject
        tier = moved[2]
    assert tier == "enterprise"
    rulesync(project, "check", check=0)


def _fds(pid: int) -> dict[str, str]:
    """The open descriptors of process `pid` and what each points at."""
    found: dict[str, str] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed while we read
            found[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
    return found


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@pytest.mark.skipif(
    not Path("/proc/self/task").is_dir() or not list(Path("/proc/self/task").glob("*/children")),
    reason="needs /proc/<pid>/task/*/children (Linux)",
)
def test_no_child_processes_pile_up_over_200_syncs(tmp_path: Path, daemon: Daemon) -> None:
    projects = [new_project(tmp_path / f"p{i}") for i in range(4)]
    add_config(debounce_ms=10)
    daemon.start()
    pid = daemon.pid
    fds_before = len(_fds(pid))
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):  # a git child ending while we read
                peak[0] = max(peak[0], len(_children(pid)))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        phases = ("advanced", "basic")
        for round_ in range(50):
            for project in projects:
                set_phase(project, phases[round_ % 2])
            for project in projects:
                wait_commits(project, round_ + 2)
    finally:
        done.set()
        sampler.join()
    assert sum(len(commits(p)) for p in projects) == 4 * 51
    # Syncs run one at a time, so children never outnumber the projects however the syncs
    # overlap on a loaded machine; a pile-up would grow with the 200 syncs.
    assert peak[0] <= len(projects), f"{peak[0]} children at once"
    wait_for("no children once idle", lambda: _children(pid) == [])
    zombies = [
        line for line in subprocess.run(
            ["ps", "-o", "stat=", "--ppid", str(pid)], capture_output=True, text=True
        ).stdout.splitlines() if line.startswith("Z")
    ]  # fmt: skip
    assert zombies == []
    # A sync still finishing holds its lock and its git child's pipes for a moment; a leak
    # stays, so wait for the count to come back and name what is open if it never does.
    try:
        wait_for("the service's descriptors back", lambda: len(_fds(pid)) <= fds_before + 2)
    except AssertionError as gone:
        raise AssertionError(f"{fds_before} descriptors at start, now {_fds(pid)}") from gone


def test_a_status_file_a_killed_service_was_writing_is_swept_at_start(
    tmp_path: Path, daemon: Daemon
) -> None:
    from rulesync.paths import state_dir

    project = new_project(tmp_path / "p1")
    state_dir().mkdir(parents=True, exist_ok=True)
    stale = state_dir() / ".status.json.rulesync-tmp-4242"
    stale.write_text('{"pid": 4242, "projects": {')
    daemon.start()
    assert not stale.exists()
    # The real status file is written as usual (just after the startup reconcile is logged).
    wait_for("the status file", lambda: str(project) in read_status())


def test_an_empty_marker_while_it_is_being_written_is_not_a_failure(
    tmp_path: Path, daemon: Daemon
) -> None:
    add_config(log_level="debug")
    project = new_project(tmp_path / "p1")
    daemon.start()
    mark = daemon.mark()
    marker = project / ".rulesync.yaml"
    marker.write_text("")  # an editor's truncate, caught before its write
    wait_for(
        "the service to read the empty marker",
        lambda: (
            daemon.events("sync.unsettled", after=mark, project=str(project))
            or daemon.events("sync.failed", after=mark, project=str(project))
        ),
    )
    set_phase(project, "advanced")
    assert wait_commits(project, 2)[0].startswith("rulesync: phase basic → advanced")
    # The commit lands before the service writes its log line about it.
    wait_for(
        "the service to log the sync",
        lambda: daemon.events("sync.applied", after=mark, project=str(project), phase="advanced"),
    )
    assert daemon.events("sync.failed", after=mark) == []


def test_a_marker_left_empty_is_reported_by_the_next_reconcile(
    tmp_path: Path, daemon: Daemon
) -> None:
    add_config(reconcile_interval=1)
    project = new_project(tmp_path / "p1")
    daemon.start()
    mark = daemon.mark()
    (project / ".rulesync.yaml").write_text("")
    failed = daemon.wait_event("sync.failed", after=mark, project=str(project))
    assert "phase" in failed["error"] and failed["cause"] != "marker"
