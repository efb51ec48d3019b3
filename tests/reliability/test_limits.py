"""Limits a small repository must not blow through: each library here is a crafted repository,
`git clone`d, then used by the real `rulesync` (and the real service).

- 600 links to one 1 MiB file: refused by the tier's byte cap from sizes alone, so the apply's
  peak memory stays far below the 600 MiB a read would cost;
- more rules in a tier than the rule cap: refused before the first write;
- a 1,500-tier library: refused by the default tier cap; with the cap raised by the user,
  `rulesync tiers` lists the whole `extends` chain reading each rule once, and the service
  serving a project on that chain keeps a bounded number of threads and inotify watches while
  git still runs for another project;
- rule names apply could never write (bytes that are not UTF-8, a name too long once the
  temporary suffix is added): refused before the first write, and `rulesync lint` reports
  exactly those names.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rulesync.daemon import MAX_PROJECT_WATCHES
from rulesync.names import MAX_RULE_NAME_BYTES
from support.daemon import Daemon, new_project, set_phase, wait_commits
from support.env import snapshot
from support.repos import RULESYNC, git, make_library, make_repo, rule_text, rulesync
from tests.reliability.conftest import Figures
from tests.reliability.harness import MARKER, error_line_problems, head, write_user_config
from tests.reliability.hostile import COMMANDS, check_cases
from tests.test_daemon_bounds import _inotify_watches, _threads

SECTION = "Limits"
HOSTILE_INSIDE = "Hostile libraries inside the project"
LIBRARY = "team-rules"


def clone_crafted(tmp_path: Path, name: str, craft: Callable[[Path], None]) -> Path:
    """A repository crafted by `craft`, committed, and `git clone`d next to it."""
    origin = make_repo(tmp_path / f"origin-{name}")
    craft(origin)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "crafted")
    clone = tmp_path / name
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "config", "user.name", "Dev User")
    git(clone, "config", "user.email", "dev@example.com")
    return clone


def unchanged_problems(project: Path, before: dict[str, bytes], commit: str) -> list[str]:
    """Nothing written in the project and nothing committed."""
    found = []
    if snapshot(project) != before:
        found.append("the project changed")
    if head(project) != commit:
        found.append("rulesync made a commit")
    return found


# Runs the rulesync CLI in this process, then writes the bytes it read (rchar of
# /proc/self/io: every read(2), whatever the page cache holds) to the file argv[1].
_BYTES_READ = """
import sys
from rulesync.cli import main
out = sys.argv.pop(1)
sys.argv[0] = "rulesync"
try:
    code = main()
finally:
    io = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
    open(out, "w").write(io["rchar"])
sys.exit(code)
"""


# Runs a command in a child; prints its exit code and its peak resident memory (KiB).
_PEAK_MEMORY = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(proc.stderr, file=sys.stderr, end="")
"""


def test_links_to_one_large_file_in_a_cloned_library_are_refused_before_any_is_read(
    tmp_path: Path, figures: Figures
) -> None:
    links = 600

    def craft(lib: Path) -> None:
        make_library(lib)
        (lib / "advanced" / "large.txt").write_bytes(b"x" * (1024 * 1024))
        for index in range(links):
            os.symlink("../advanced/large.txt", lib / "basic" / f"copy-{index:03}.mdc")

    lib = clone_crafted(tmp_path, "library", craft)
    write_user_config(lib)
    project = make_repo(tmp_path / "project")
    (project / MARKER).write_text("phase: basic\n")
    before, commit = snapshot(project), head(project)
    # The apply in a child; its exit code and peak resident memory (KiB) come back on stdout.
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY, *RULESYNC, "apply"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    code, peak_kib = (int(x) for x in proc.stdout.split())
    problems = [] if code == 2 else [f"apply exited {code}, wanted 2"]
    problems += error_line_problems(proc.stderr, str(lib / "basic"), "max_tier_bytes")
    # One read of every link would hold 600 MiB; the interpreter alone is about 30 MiB.
    if peak_kib >= 200 * 1024:
        problems.append(f"apply peaked at {peak_kib // 1024} MiB")
    problems += unchanged_problems(project, before, commit)
    figures.add(
        SECTION,
        f"{links} symlinks to one 1 MiB file in a cloned library",
        trials=1,
        failures=1 if problems else 0,
        detail=f"apply exit {code}, refused by max_tier_bytes from sizes alone; "
        f"peak memory {peak_kib // 1024} MiB (bound 200 MiB); nothing written",
    )
    assert not problems, problems


def test_a_tier_with_more_rules_than_the_cap_is_refused_before_the_first_write(
    tmp_path: Path, figures: Figures
) -> None:
    rules = 5001  # one more than the default max_tier_rules

    def craft(lib: Path) -> None:
        make_library(lib)
        text = rule_text("tiny", "One of many.")
        for index in range(rules - 3):
            (lib / "basic" / f"r{index:05}.mdc").write_text(text)

    lib = clone_crafted(tmp_path, "library", craft)
    write_user_config(lib)
    project = make_repo(tmp_path / "project")
    (project / MARKER).write_text("phase: basic\n")
    before, commit = snapshot(project), head(project)
    problems = []
    for command in COMMANDS:
        label = " ".join(command)
        proc = rulesync(project, *command, timeout=120)
        if proc.returncode != 2:
            problems.append(f"`rulesync {label}` exited {proc.returncode}, wanted 2")
        problems += [
            f"{label}: {p}"
            for p in error_line_problems(proc.stderr, str(lib / "basic"), "max_tier_rules")
        ]
    problems += unchanged_problems(project, before, commit)
    figures.add(
        SECTION,
        f"a cloned library whose tier holds {rules} rules",
        trials=1,
        failures=1 if problems else 0,
        detail="refused by max_tier_rules (5,000) with one line naming the tier folder; "
        + ", ".join(" ".join(c) for c in COMMANDS)
        + "; nothing written",
    )
    assert not problems, problems


# --- a 1,500-tier library ----------------------------------------------------------------------

TIERS = 1500


def chain_library(lib: Path, *, own_rules: bool, first_rule: str | None = None) -> None:
    """TIERS tiers, each extending the one before. With `own_rules` every tier adds a rule;
    `first_rule` is the first tier's one rule (the others then hold only a README)."""
    lines = ["version: 1", "tiers:"]
    for index in range(TIERS):
        folder = lib / f"t{index}"
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(f"# t{index}\n")
        if own_rules:
            (folder / f"r{index}.mdc").write_text(rule_text(f"rule {index}", f"Rule {index}."))
        lines.append(f"  - name: t{index}")
        if index:
            lines.append(f"    extends: t{index - 1}")
    if first_rule is not None:
        (lib / "t0" / "base.mdc").write_text(first_rule)
    (lib / "tiers.yaml").write_text("\n".join(lines) + "\n")


def test_a_long_extends_chain_is_capped_and_listed_reading_each_rule_once(
    tmp_path: Path, figures: Figures
) -> None:
    body = "Keep every service's logs structured and free of secrets.\n" * 1200  # 70 KiB
    first_rule = rule_text("base", body.rstrip("\n"))
    lib = clone_crafted(
        tmp_path, "library", lambda lib: chain_library(lib, own_rules=False, first_rule=first_rule)
    )
    write_user_config(lib)
    problems = []
    capped = rulesync(tmp_path, "tiers", "--library", str(lib), timeout=120)
    if capped.returncode != 2:
        problems.append(f"tiers under the default cap exited {capped.returncode}, wanted 2")
    problems += error_line_problems(capped.stderr, "tiers.yaml", f"{TIERS} tiers", "max_tiers")

    write_user_config(lib, max_tiers=TIERS)
    counted = tmp_path / "rchar"
    proc = subprocess.run(
        [sys.executable, "-c", _BYTES_READ, str(counted), "tiers", "--library", str(lib)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 or proc.stderr:
        problems.append(f"tiers exited {proc.returncode}: {proc.stderr[-400:]!r}")
    headers = [m[1] for line in proc.stdout.splitlines() if (m := re.match(r"(t\d+)[ :]", line))]
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  base")]
    if headers != [f"t{i}" for i in range(TIERS)]:
        problems.append("tiers does not list every tier of the chain in order")
    if len(listed) != TIERS:
        problems.append(f"the first tier's rule is listed under {len(listed)} tiers, not {TIERS}")
    read = int(counted.read_text())
    rule_bytes = len(first_rule.encode())
    # Reading the rule once per tier of the chain (the quadratic way) reads TIERS times its
    # size, over 100 MB; reading it once leaves the interpreter's own files and tiers.yaml.
    bound = 32 * 1024 * 1024
    if read >= bound:
        problems.append(f"tiers read {read} bytes (the rule is {rule_bytes} bytes)")
    figures.add(
        SECTION,
        f"a cloned library with a {TIERS}-tier `extends` chain",
        trials=1,
        failures=1 if problems else 0,
        detail=(
            f"refused by the default max_tiers (64); with max_tiers: {TIERS}, `rulesync tiers` "
            f"lists every tier and read {read / 2**20:.1f} MiB in all (bound 32 MiB; the "
            f"{rule_bytes // 1024} KiB rule read once per tier would be "
            f"{TIERS * rule_bytes / 2**20:.0f} MiB)"
        ),
    )
    assert not problems, problems


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="counts from /proc")
def test_a_1500_tier_library_in_a_cloned_project_costs_the_service_a_bounded_number_of_threads(
    tmp_path: Path, daemon: Daemon, figures: Figures
) -> None:
    def craft(repo: Path) -> None:
        chain_library(repo / LIBRARY, own_rules=True)
        (repo / MARKER).write_text(f"phase: t{TIERS - 1}\nlibrary: {LIBRARY}\n")

    user_library = make_library(tmp_path / "user-library")
    write_user_config(user_library, max_tiers=TIERS)
    big = clone_crafted(tmp_path, "big", craft)
    rulesync(big, "projects", "add", str(big), check=0)
    other = new_project(tmp_path / "other")
    daemon.start()
    # The service's own threads (main, worker, the inotify observer, a fetcher) and the
    # registry's folder, plus what each of the two projects may watch.
    thread_bound, watch_bound = 5 + 2 * MAX_PROJECT_WATCHES, 1 + 2 * MAX_PROJECT_WATCHES
    problems = []
    subjects = wait_commits(big, 1, timeout=300)
    if not subjects[0].startswith(f"rulesync: install t{TIERS - 1} rules (+{TIERS})"):
        problems.append(f"the long chain's project got {subjects[0]!r}")
    wait_commits(other, 1, timeout=120)
    threads, watches = _threads(daemon.pid), _inotify_watches(daemon.pid)
    # Git still starts for another project: a phase change there is committed.
    set_phase(other, "advanced")
    if not wait_commits(other, 2, timeout=120)[0].startswith("rulesync: phase basic → advanced"):
        problems.append("the other project's phase change was not committed")
    threads = max(threads, _threads(daemon.pid))
    watches = max(watches, _inotify_watches(daemon.pid))
    if threads > thread_bound:
        problems.append(f"{threads} threads (bound {thread_bound})")
    if watches > watch_bound:
        problems.append(f"{watches} inotify watches (bound {watch_bound})")
    figures.add(
        "Service",
        f"a cloned project whose own library has {TIERS} tiers (max_tiers raised), "
        "beside another project",
        trials=1,
        failures=1 if problems else 0,
        detail=(
            f"{TIERS} rules installed; the service ran {threads} threads (bound {thread_bound}) "
            f"with {watches} inotify watches (bound {watch_bound}); the other project's "
            "phase change was committed"
        ),
    )
    assert not problems, problems


# --- names apply could never write ---------------------------------------------------------------


@dataclass(frozen=True)
class NameCase:
    """A library inside the project holding one rule whose name apply cannot write."""

    name: str
    raw: bytes
    shown: str
    problem: str


NAME_CASES = (
    NameCase(
        "a library rule named with bytes that are not UTF-8",
        b"caf\xe9.mdc",
        "caf\\xe9.mdc",
        "not valid UTF-8",
    ),
    NameCase(
        "a library rule name too long once the temporary suffix is added",
        b"z" * 240 + b".mdc",
        "z" * 40,
        f"longer than {MAX_RULE_NAME_BYTES} bytes",
    ),
)
DROPPINGS = (".#a.mdc", ".a.mdc.swp", "4913", "a.mdc~", ".DS_Store", ".hidden.mdc")


def _lint_errors(clone: Path) -> list[str]:
    proc = rulesync(clone, "lint", LIBRARY, timeout=60)
    return [line for line in proc.stdout.splitlines() if ": error: " in line]


def test_rule_names_apply_cannot_write_are_refused_before_the_first_write_and_linted(
    tmp_path: Path, figures: Figures
) -> None:
    write_user_config(make_library(tmp_path / "user-library"))

    def problems_of(index: int, case: NameCase) -> list[str]:
        def craft(repo: Path) -> None:
            lib = make_library(repo / LIBRARY)
            (lib / "basic" / os.fsdecode(case.raw)).write_text(rule_text("d", "A rule."))
            for dropping in DROPPINGS:
                (lib / "basic" / dropping).write_text("an editor's file\n")
            (repo / MARKER).write_text(f"phase: basic\nlibrary: {LIBRARY}\n")

        clone = clone_crafted(tmp_path, f"clone-{index}", craft)
        before, commit = snapshot(clone), head(clone)
        problems = []
        for command in COMMANDS:
            label = " ".join(command)
            proc = rulesync(clone, *command, timeout=60)
            if proc.returncode != 2:
                problems.append(f"`rulesync {label}` exited {proc.returncode}, wanted 2")
            problems += [
                f"{label}: {p}"
                for p in error_line_problems(
                    proc.stderr, f"{LIBRARY}/basic", case.shown, case.problem
                )
            ]
        problems += unchanged_problems(clone, before, commit)
        errors = _lint_errors(clone)
        # The same name in the same words as apply's refusal, and nothing else.
        if len(errors) != 1 or case.problem not in errors[0] or case.shown not in errors[0]:
            problems.append(f"lint reports {errors}, wanted this one name alone")
        return problems

    detail = (
        "`git clone`d; " + ", ".join(" ".join(c) for c in COMMANDS) + " exit 2 naming it, "
        "nothing written; `rulesync lint` reports that name alone (editor droppings beside it)"
    )
    check_cases(figures, HOSTILE_INSIDE, NAME_CASES, problems_of, detail)
