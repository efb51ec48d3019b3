"""Smaller ways to turn rulesync against its user, end to end with the real `rulesync` and the
real service:

- `.cursor/rules` swapped for a symlink to a folder outside while an apply runs, at seeded
  moments: nothing is ever written outside;
- editor droppings (Emacs, vim, backups, Finder, a hidden rule) in a library folder while the
  service runs: it keeps syncing, and lint and apply give the same verdict;
- the service killed while writing its status file: no temporary file survives its restart;
- empty markers right after a change, many projects at once: not a failure;
- a full disk (a file-size limit) at seeded points of an apply: the error names the file, and
  the next apply heals;
- a cloned repository whose manifest was edited to claim the team's committed rule: the rule is
  never deleted without a backup, and the apply says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import time
from pathlib import Path

import pytest

from rulesync.fsutil import TMP_MARK, temporary_name
from rulesync.paths import state_dir
from rulesync.runtime import STATUS_FILE, read_status
from support.daemon import Daemon, add_config, new_project, set_phase, wait_commits, wait_for
from support.env import snapshot
from support.repos import git, make_library, make_repo, rule_text, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import (
    MARKER,
    RULES,
    HistoryAudit,
    TrialLog,
    chosen_seeds,
    drain_group,
    error_line_problems,
    leftover_temporaries,
    make_tiered_library,
    rule_files,
    start_rulesync,
    write_user_config,
)


def _template(tmp_path: Path, phase: str) -> Path:
    project = make_repo(tmp_path / "template")
    (project / MARKER).write_text(f"phase: {phase}\n")
    git(project, "add", MARKER)
    git(project, "commit", "-q", "-m", "marker")
    return project


def _copy(template: Path, path: Path) -> Path:
    shutil.copytree(template, path, symlinks=True)
    return path


# --- `.cursor/rules` swapped for a symlink while an apply runs -----------------------------------


def _swap_for_link(project: Path, outside: Path) -> str:
    """Move the real rules folder aside (if it exists yet) and put a symlink to `outside` in its
    place; where the apply was, as far as the folder shows."""
    rules = project / RULES
    moved = False
    for attempt in range(1000):
        try:
            if rules.is_dir() and not rules.is_symlink():
                os.rename(rules, project / f"moved-rules-{attempt}")
                moved = True
            (project / ".cursor").mkdir(exist_ok=True)
            os.symlink(outside, rules)
        except OSError:
            continue  # the apply made the folder between the two steps: move that one too
        return "swapped after the folder was made" if moved else "swapped before any write"
    raise AssertionError(f"{rules} could not be swapped for a symlink")


@pytest.mark.slow
def test_swapping_the_rules_folder_for_a_symlink_during_apply_never_writes_outside(
    tmp_path: Path, figures: Figures
) -> None:
    write_user_config(make_tiered_library(tmp_path / "library").root)
    template = _template(tmp_path, "enterprise")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.mdc").write_text("the folder's own file\n")
    watched = snapshot(outside)

    durations = []
    for index in range(3):  # calibrate: how long one apply of this tier takes here
        started = time.perf_counter()
        rulesync(_copy(template, tmp_path / f"calibrate-{index}"), "apply", check=0)
        durations.append(time.perf_counter() - started)
    apply_seconds = statistics.median(durations)

    log = TrialLog("Concurrency", "`.cursor/rules` swapped for a symlink to a folder outside")
    for seed in chosen_seeds(range(9000, 9030)):

        def trial(seed: int = seed) -> list[str]:
            rng = random.Random(seed)
            project = _copy(template, tmp_path / f"trial-{seed}")
            audit = HistoryAudit(project)
            proc = start_rulesync(project, "apply")
            if seed % 2:
                time.sleep(rng.uniform(0, apply_seconds))
            else:  # aim at the writes: just after the apply makes the folder
                while not (project / RULES).is_dir() and proc.poll() is None:
                    time.sleep(0.0005)
                time.sleep(rng.uniform(0, 0.02))
            ended = proc.poll() is not None
            stage = _swap_for_link(project, outside)
            log.count("swapped after the apply ended" if ended else stage)
            _, err = proc.communicate(timeout=120)
            drain_group(proc.pid)
            log.count(f"apply exit {proc.returncode}")
            problems = []
            if proc.returncode not in (0, 1, 2):
                problems.append(f"apply exited {proc.returncode}")
            if proc.returncode and (found := error_line_problems(err)):
                problems += found
            if snapshot(outside) != watched:
                problems.append("something was written in the folder outside")
            return problems + audit.problems()

        log.run(seed, trial)
    figures.finish(
        log,
        f"by turns, swap at a delay uniform in [0, {apply_seconds * 1000:.0f} ms] (one apply of "
        "32 rules) or in [0, 20 ms] after the apply made the folder; "
        "the folder outside compared byte for byte",
    )


# --- editor droppings in a library folder --------------------------------------------------------

DROPPINGS = {
    ".#logging.mdc": None,  # Emacs' lock: a dangling symlink
    ".logging.mdc.swp": b"b0VIM 9.0\x00\x00garbage",
    "4913": b"",
    "logging.mdc~": b"---\ndescription: the old version\n---\n",
    ".DS_Store": b"\x00\x00\x00\x01Bud1\x00",
    ".hidden.mdc": b"not a rule at all: no front matter, \xff not UTF-8\n",
}


def test_editor_droppings_in_a_library_folder_never_stop_the_service(
    tmp_path: Path, daemon: Daemon, figures: Figures
) -> None:
    lib = make_library(tmp_path / "library")
    write_user_config(lib)
    project = new_project(tmp_path / "project")
    daemon.start()
    wait_commits(project, 1)
    mark = daemon.mark()
    problems = []
    for round_number in range(3):
        # An edit as editors make it: droppings appear, the rule is saved, some vanish.
        for name, data in DROPPINGS.items():
            path = lib / "basic" / name
            if data is None:
                os.symlink(f"dev@host.{round_number}:1700000000", path)
            else:
                path.write_bytes(data)
        (lib / "basic" / "logging.mdc").write_text(
            rule_text("basic logging", f"Use the logging module (edit {round_number}).")
        )
        subject = wait_commits(project, 2 + round_number, timeout=60)[0]
        if not subject.startswith("rulesync: update basic"):
            problems.append(f"edit {round_number} made the commit {subject!r}")
        for name in DROPPINGS:
            if round_number < 2 or name in ("4913", ".#logging.mdc"):
                (lib / "basic" / name).unlink()
    for name in DROPPINGS:  # what the editors leave behind at the end
        (lib / "basic" / name).unlink(missing_ok=True)
    for name, data in DROPPINGS.items():
        if data is not None:
            (lib / "basic" / name).write_bytes(data)
    failed = daemon.events("sync.failed", after=mark)
    if failed:
        problems.append(f"the service failed: {failed[0].get('error')}")
    copied = sorted(set(rule_files(project)) - {"logging.mdc", "privacy.mdc", "testing.mdc"})
    if copied or any((project / RULES / n).exists() for n in DROPPINGS):
        problems.append(f"droppings reached the project: {copied}")
    linted = rulesync(tmp_path, "lint", str(lib))
    applied = rulesync(project, "apply")
    if (linted.returncode, applied.returncode) != (0, 0):
        problems.append(f"lint exited {linted.returncode}, apply {applied.returncode}")
    if any(name in linted.stdout for name in DROPPINGS if name != "4913"):
        problems.append(f"lint reported a dropping: {linted.stdout!r}")
    figures.add(
        "Service",
        "editor droppings (`.#x.mdc`, `.x.mdc.swp`, `4913`, `x.mdc~`, `.DS_Store`, a hidden "
        "`.x.mdc`) in a library folder while the service runs",
        trials=3,
        failures=1 if problems else 0,
        detail="3 edits, each synced and committed, no failed sync; then `rulesync lint` and "
        "`rulesync apply` both ignore every dropping (exit 0)",
    )
    assert not problems, problems


# --- the service killed while writing its status file --------------------------------------------


@pytest.mark.slow
def test_a_service_killed_while_writing_its_status_file_leaves_no_temporary_after_restart(
    tmp_path: Path, daemon: Daemon, figures: Figures
) -> None:
    write_user_config(make_library(tmp_path / "library"))
    project = new_project(tmp_path / "project")
    log = TrialLog("Crash consistency", "the service killed while writing its status file")
    phases = ("basic", "advanced", "enterprise")
    for seed in chosen_seeds(range(9100, 9110)):

        def trial(seed: int = seed) -> list[str]:
            rng = random.Random(seed)
            daemon.start()
            set_phase(project, rng.choice(phases))
            time.sleep(rng.uniform(0, 0.3))
            daemon.signal(signal.SIGKILL)
            assert daemon.proc is not None
            daemon.proc.wait()
            drain_group(daemon.pid)
            if leftover_temporaries(state_dir()):
                log.count("kills that left a temporary file themselves")
            # What a kill in the middle of the status write leaves (the window is too short
            # to hit by chance every time): a half-written status beside the real one.
            stale = state_dir() / temporary_name(STATUS_FILE)
            stale.write_text('{"pid": 4242, "projects": {')
            left_by_the_kill = leftover_temporaries(state_dir())
            daemon.start()
            problems = []
            # The restarted service's own writes may have a temporary of their own by now.
            if left := [n for n in left_by_the_kill if (state_dir() / n).exists()]:
                problems.append(f"temporary files survived the restart: {left}")
            if not isinstance(read_status(), dict):
                problems.append("the status file does not read")
            daemon.stop()
            return problems

        log.run(seed, trial)
    figures.finish(
        log,
        "SIGKILL at a delay uniform in [0, 300 ms] after a phase change, a half-written status "
        f"temporary (`*{TMP_MARK}*`) left beside the status file; every restart removed it",
    )


# --- empty markers right after a change ----------------------------------------------------------


@pytest.mark.slow
def test_empty_markers_right_after_a_change_across_projects_are_not_failures(
    tmp_path: Path, daemon: Daemon, figures: Figures
) -> None:
    write_user_config(make_library(tmp_path / "library"))
    add_config(log_level="debug")
    projects = [new_project(tmp_path / f"project-{i}") for i in range(8)]
    daemon.start()
    for project in projects:
        wait_commits(project, 1, timeout=60)
    mark = daemon.mark()
    log = TrialLog("Service", "an empty marker read right after a change, 8 projects at once")
    phases = ("advanced", "enterprise", "basic")
    for round_number, seed in enumerate(chosen_seeds(range(9200, 9206))):

        def trial(seed: int = seed, round_number: int = round_number) -> list[str]:
            rng = random.Random(seed)
            step = daemon.mark()
            for project in projects:  # an editor's truncate, caught before its write
                (project / MARKER).write_text("")
            for project in projects:
                wait_for(
                    f"the service to read {project.name}'s empty marker",
                    lambda p=str(project): (
                        daemon.events("sync.unsettled", after=step, project=p)
                        or daemon.events("sync.failed", after=step, project=p)
                    ),
                    timeout=60,
                )
            for project in projects:
                time.sleep(rng.uniform(0, 0.02))
                set_phase(project, phases[round_number % 3])
            for project in projects:
                wait_commits(project, 2 + round_number, timeout=60)
            log.count("empty markers read", len(daemon.events("sync.unsettled", after=step)))
            return [
                f"{record.get('project')}: {record.get('error')}"
                for record in daemon.events("sync.failed", after=step)
            ]

        log.run(seed, trial)
    log.trials *= len(projects)
    failed = daemon.events("sync.failed", after=mark)
    assert not failed, failed
    figures.finish(log, "each marker emptied, read empty by the service, then written")


# --- a full disk ---------------------------------------------------------------------------------


def _file_size_limit(limit: int) -> None:
    # A file-size limit makes writes fail the way a full disk does, for that process only.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.slow
def test_a_full_disk_during_apply_names_the_file_and_the_next_apply_heals(
    tmp_path: Path, figures: Figures
) -> None:
    lib = make_tiered_library(tmp_path / "library").root
    write_user_config(lib)
    template = _template(tmp_path, "enterprise")
    log = TrialLog("Crash consistency", "a full disk (a file-size limit) during apply")
    for seed in chosen_seeds(range(9300, 9320)):

        def trial(seed: int = seed) -> list[str]:
            rng = random.Random(seed)
            project = _copy(template, tmp_path / f"trial-{seed}")
            limit = round(2 ** rng.uniform(7, 17))  # 128 B to 128 KiB, log-uniform
            # Without a commit no blob stream is written first: the limit lands on the rules.
            command = ("apply",) if seed % 2 else ("apply", "--no-commit")
            proc = rulesync(
                project, *command, timeout=120, preexec_fn=lambda: _file_size_limit(limit)
            )
            problems = []
            if proc.returncode == 0:
                log.count("apply fit under the limit")
            else:
                log.count(f"apply exit {proc.returncode}")
                problems += error_line_problems(proc.stderr)
                named = re.search(re.escape(str(project)) + r"/(\S+?):", proc.stderr)
                if named is None:
                    problems.append(f"the error names no file of the project: {proc.stderr!r}")
                else:
                    where = re.sub(r"rulesync-commit-[^/]+", "rulesync-commit-*", named.group(1))
                    log.count("stopped at " + re.sub(TMP_MARK + r"\w+", TMP_MARK + "*", where))
            healed = rulesync(project, "apply", timeout=120)
            if healed.returncode != 0:
                problems.append(f"the next apply exited {healed.returncode}: {healed.stderr!r}")
            elif rulesync(project, "check", timeout=120).returncode != 0:
                problems.append("the project does not check after the next apply")
            if left := leftover_temporaries(project):
                problems.append(f"temporary files left: {left}")
            return problems + HistoryAudit(project).problems()

        log.run(seed, trial)
    figures.finish(
        log,
        "limit log-uniform in [128 B, 128 KiB] per file, for rulesync and its git; apply and "
        "apply --no-commit by turns; "
        "the error names the file, the next apply heals",
    )


# --- a manifest edited to claim a team's committed rule ------------------------------------------


def _manifest_file(repo: Path) -> Path:
    """The committed manifest, wherever this version of rulesync keeps it."""
    listed = git(repo, "ls-files").splitlines()
    return repo / next(p for p in listed if p.endswith(".rulesync-manifest.json"))


def test_a_manifest_edited_to_claim_a_teams_rule_never_loses_it(
    tmp_path: Path, figures: Figures
) -> None:
    write_user_config(make_library(tmp_path / "library"))
    team_rule = rule_text("the team's own rule", "Review every migration twice.").encode()
    origin = _template(tmp_path, "basic")
    rulesync(origin, "apply", check=0)
    team_path = origin / RULES / "team.mdc"
    team_path.write_bytes(team_rule)
    manifest = _manifest_file(origin)
    doc = json.loads(manifest.read_text())
    # The whole files rulesync owns, keyed by path from the project root.
    doc["files"][f"{RULES.as_posix()}/team.mdc"] = hashlib.sha256(team_rule).hexdigest()
    manifest.write_text(json.dumps(doc, indent=2) + "\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "the team's rule, and a manifest claiming it")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "config", "user.name", "Dev User")
    git(clone, "config", "user.email", "dev@example.com")

    problems = []
    proc = rulesync(clone, "apply")
    saved = [line for line in proc.stdout.splitlines() if "saved your version to" in line]
    backups = [Path(line.split("saved your version to ", 1)[1]) for line in saved]
    if proc.returncode != 0:
        problems.append(f"apply exited {proc.returncode}: {proc.stderr!r}")
    if "team.mdc" not in proc.stdout:
        problems.append(f"apply does not name team.mdc: {proc.stdout!r}")
    kept = (clone / RULES / "team.mdc").is_file() and (
        clone / RULES / "team.mdc"
    ).read_bytes() == team_rule
    backed_up = len(backups) == 1 and backups[0].read_bytes() == team_rule
    if not kept and not backed_up:
        problems.append("team.mdc was deleted without a backup of its bytes")
    figures.add(
        "Hostile repositories",
        "a cloned manifest edited to claim the team's committed rule (with its real sha256)",
        trials=1,
        failures=1 if problems else 0,
        detail=(
            "apply "
            + ("kept it" if kept else "deleted it after saving its bytes and said where")
            + "; the team's rule named in the output"
        ),
    )
    assert not problems, problems
