"""`rulesync doctor`'s checks: git, identity, config, inotify limits, the service, the registry.

Each check is a function returning `Check`s. The judging functions take plain data and are
pure (tested with made-up limits and versions); the `read_*` functions gather that data.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rulesync.config import Config, load_config
from rulesync.errors import RulesyncError
from rulesync.git import (
    TopPaths,
    busy_reason,
    find_git,
    git_version,
    global_identity,
    ignored_paths,
)
from rulesync.marker import MARKER
from rulesync.paths import config_dir, log_dir
from rulesync.project import Inputs
from rulesync.registry import load_projects, missing_reason, registry_path
from rulesync.runtime import running_pid
from rulesync.targets import owner
from rulesync.units import LABEL, UNIT_NAME, Manager, ServiceStatus

if TYPE_CHECKING:
    from rulesync.project import Project

OK, WARN, FAIL = "OK", "WARN", "FAIL"
MIN_GIT = (2, 25)
# An estimate for when the folders are not known: per project the root, the cursor folder and the
# git dir, plus the registry's folder and one library. `run_checks` counts the real folders
# instead, from what each project's load read. watchdog >= 7 puts every watch of one observer
# on a single inotify instance, so the service needs one instance however many it serves.
WATCHES_PER_PROJECT = 3
INSTANCES_NEEDED = 1
SHARED_WATCHES = 2
INOTIFY = Path("/proc/sys/fs/inotify")


class Check(NamedTuple):
    """One line of the doctor's report: what was checked, how it went, and the fix."""

    name: str
    level: str
    message: str
    fix: str = ""

    def line(self) -> str:
        """`LEVEL name: message  → fix: …` on one line."""
        text = f"{self.level:<4} {self.name}: {self.message}"
        return f"{text}  → fix: {self.fix}" if self.fix else text

    def doc(self) -> dict[str, Any]:
        """The check as plain data (for --json)."""
        return self._asdict()


# --- git ------------------------------------------------------------------------------------


def parse_git_version(text: str) -> tuple[int, ...] | None:
    """(2, 39, 5) from `git version 2.39.5` (or `2.39.5.windows.1`, `2.39.3 (Apple Git-146)`)."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def check_git(version: str | None) -> Check:
    """git must be on PATH; older than 2.25 is untested."""
    if version is None:
        return Check(
            "git",
            FAIL,
            "git is not on PATH: rulesync cannot commit, and the service cannot run",
            "install git (apt install git / dnf install git / xcode-select --install), "
            "then run `rulesync service install` again so the unit's PATH finds it",
        )
    parsed = parse_git_version(version)
    if parsed is None or parsed[:2] < MIN_GIT:
        wanted = ".".join(map(str, MIN_GIT))
        return Check(
            "git",
            WARN,
            f"{version}: older than {wanted}, which rulesync is not tested with",
            f"upgrade git to {wanted} or newer",
        )
    return Check("git", OK, version)


def check_identity(identity: tuple[str, str] | None, author: tuple[str, str]) -> Check:
    """rulesync's commits carry the user as committer; without an identity they carry rulesync."""
    if identity is None:
        return Check(
            "identity",
            WARN,
            "no global git identity (user.name and user.email): rulesync's commits will name "
            f"{author[0]} <{author[1]}> as committer too, and your own commits may fail",
            'git config --global user.name "Your Name" && '
            "git config --global user.email you@example.com",
        )
    return Check("identity", OK, f"{identity[0]} <{identity[1]}> (rulesync commits as author)")


# --- config ---------------------------------------------------------------------------------


def check_config() -> tuple[Check, Config | None]:
    """config.yaml loads (or is absent: the defaults)."""
    path = config_dir() / "config.yaml"
    try:
        config = load_config(path)
    except (RulesyncError, OSError) as exc:
        return Check("config", FAIL, str(exc), f"edit or remove {path}"), None
    where = str(path) if path.exists() else f"defaults ({path} does not exist)"
    return Check("config", OK, f"{where}; logs in {log_dir()}"), config


# --- inotify --------------------------------------------------------------------------------


class InotifyLimits(NamedTuple):
    """The kernel's per-user limits, what this user's other programs already use, and what
    the running service holds (None when no service runs, or its usage cannot be read)."""

    max_watches: int
    max_instances: int
    used_watches: int
    used_instances: int
    service_pid: int | None = None
    service_watches: int | None = None
    service_instances: int | None = None


def read_inotify(exclude_pid: int | None = None) -> InotifyLimits | None:
    """Limits from /proc/sys, usage counted over this user's processes (None off Linux).

    The running service's own usage (`exclude_pid`) is left out: it is part of what it needs.
    """
    try:
        max_watches = int((INOTIFY / "max_user_watches").read_text())
        max_instances = int((INOTIFY / "max_user_instances").read_text())
    except (OSError, ValueError):
        return None
    watches = instances = 0
    uid = os.getuid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == exclude_pid:
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
        except OSError:
            continue  # gone
        usage = _inotify_usage(int(entry.name))
        if usage is not None:
            watches += usage[0]
            instances += usage[1]
    service = _inotify_usage(exclude_pid) if exclude_pid is not None else None
    return InotifyLimits(
        max_watches,
        max_instances,
        watches,
        instances,
        exclude_pid,
        service[0] if service else None,
        service[1] if service else None,
    )


def _inotify_usage(pid: int) -> tuple[int, int] | None:
    """The inotify watches and instances process `pid` holds (None when it cannot be read)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None  # gone, or not ours to read
    watches = instances = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                watches += sum(1 for line in info if line.startswith("inotify wd:"))
            instances += 1
        except OSError:
            continue
    return watches, instances


def inotify_needed(projects: int) -> int:
    """An estimate of the watches `projects` registered projects need (folders unknown)."""
    return WATCHES_PER_PROJECT * projects + SHARED_WATCHES


def _suggest(current: int, needed: int, floor: int) -> int:
    value = floor
    while value < current + 2 * needed:
        value *= 2
    return value


def check_inotify(
    limits: InotifyLimits | None, projects: int, platform: str, watches: int | None = None
) -> Check:
    """Enough inotify watches left for every registered project, and an instance to spare.

    `watches` is what the service watches for them (counted from what each load read)."""
    if limits is None:
        if platform.startswith("linux"):
            return Check("inotify", WARN, "cannot read /proc/sys/fs/inotify; limits unknown")
        return Check("inotify", OK, f"not used on {platform} (the service uses its own watcher)")
    needed = inotify_needed(projects) if watches is None else watches
    free_watches = limits.max_watches - limits.used_watches
    free_instances = limits.max_instances - limits.used_instances
    held = ""
    if limits.service_pid is not None and limits.service_watches is None:
        held = f"; the running service's own (pid {limits.service_pid}) cannot be read"
    elif limits.service_pid is not None:
        held = (
            f"; the running service (pid {limits.service_pid}) holds {limits.service_watches:,} "
            f"watches and {limits.service_instances} instance(s)"
        )
    others = " by other programs" if limits.service_pid is not None else ""
    message = (
        f"watches {limits.used_watches:,} of {limits.max_watches:,} in use{others}, instances "
        f"{limits.used_instances} of {limits.max_instances}{held}; the service needs up to "
        f"{needed} watches for {projects} project(s) and {INSTANCES_NEEDED} instance"
    )
    if free_watches >= needed and free_instances >= INSTANCES_NEEDED:
        return Check("inotify", OK, message)
    watches = _suggest(limits.used_watches, needed, 524288)
    instances = _suggest(limits.used_instances, INSTANCES_NEEDED, 1024)
    settings = f"fs.inotify.max_user_watches={watches} fs.inotify.max_user_instances={instances}"
    return Check(
        "inotify",
        WARN,
        message + " (short: those projects fall back to slower polling)",
        f"sudo sysctl -w {settings} && printf '%s\\n' {settings} | "
        "sudo tee /etc/sysctl.d/60-rulesync.conf  (the second part keeps it after a reboot)",
    )


# --- the service ----------------------------------------------------------------------------


def check_service(state: ServiceStatus, projects: int) -> Check:
    """The service installed and running (or, without a service manager, started by hand)."""
    manager: Manager = state.manager
    launchd = manager.kind == "launchd"
    logs = f"{log_dir()}/launchd.err.log" if launchd else "journalctl --user -u rulesync -n 50"
    restart = (
        f"launchctl kickstart -k gui/{os.getuid()}/{LABEL}"
        if launchd
        else f"systemctl --user restart {UNIT_NAME}"
    )
    if state.pid is not None and state.pid == state.manager_pid:
        return Check("service", OK, f"running (pid {state.pid}) under the service manager")
    if state.pid is not None:
        if manager.reachable and not state.installed:
            return Check(
                "service",
                WARN,
                f"running (pid {state.pid}), started by hand: it stops at logout or reboot",
                f"kill {state.pid} && rulesync service install",
            )
        return Check("service", OK, f"running (pid {state.pid}), started by hand")
    if state.installed and state.ours:
        return Check(
            "service",
            FAIL,
            f"installed ({state.manager.unit_path}) but not running: registered projects are "
            "not being synced",
            f"read why in `{logs}`, then `{restart}`",
        )
    if not manager.reachable:
        return Check(
            "service",
            WARN,
            f"not running, and no user service manager is reachable ({manager.unreachable})",
            "run it yourself: `nohup rulesync daemon >/dev/null 2>&1 &`",
        )
    what = (
        f"the {projects} registered project(s) sync only when you run `rulesync apply` in them"
        if projects
        else "nothing syncs by itself"
    )
    return Check(
        "service",
        WARN,
        f"not installed: {what}",
        "rulesync service install",
    )


# --- the registry ---------------------------------------------------------------------------


class Registered(NamedTuple):
    """The registry's checks, how many projects it lists, and the folders the service watches
    for them (None when they cannot be known: no valid config)."""

    checks: list[Check]
    projects: int
    watched: frozenset[str] | None


def _watched(folder: Path, config: Config, inputs: Inputs | None) -> set[str]:
    # The service's own rule, fed what the load read; the git dir counts (watched while a
    # sync is deferred), so this is the most the project needs.
    from rulesync.daemon.watch import default_library, plan_watches

    git = find_git(folder)
    git_dir = git.git_dir if git is not None else None
    return set(plan_watches(folder, inputs, default_library(config), git_dir).watched)


def check_registry(config: Config | None) -> Registered:
    """Every registered folder exists, holds a marker that loads, and is not stuck."""
    from rulesync.sync import inspect

    path = registry_path()
    try:
        projects = load_projects(path)
    except (RulesyncError, OSError) as exc:
        return Registered([Check("registry", FAIL, str(exc), f"edit or remove {path}")], 0, None)
    checks: list[Check] = []
    watched: set[str] | None = {os.path.realpath(path.parent)} if config is not None else None
    for folder in projects:
        remove = f"rulesync projects remove {_arg(folder)}"
        gone = missing_reason(folder)
        if gone is not None:
            if folder.is_dir() and watched is not None and config is not None:
                watched |= _watched(folder, config, None)  # watched for its marker's return
            fix = remove if not folder.is_dir() else f"rulesync init {_arg(folder)}  (or {remove})"
            checks.append(Check("project", WARN, f"{folder}: {gone}", fix))
            continue
        if config is None:
            continue  # its marker cannot be judged without the config (already a FAIL)
        try:
            project, plan = inspect(folder, config)
        except (RulesyncError, OSError) as exc:
            if watched is not None:
                watched |= _watched(folder, config, None)
            checks.append(
                Check(
                    "marker",
                    FAIL,
                    str(exc),
                    f"edit {folder / MARKER}, then `rulesync -C {_arg(folder)} status`",
                )
            )
            continue
        if watched is not None:
            watched |= _watched(folder, config, project.inputs)
        busy = (
            busy_reason(project.git) if project.git is not None and project.marker.commit else None
        )
        if busy:
            checks.append(
                Check(
                    "project",
                    WARN,
                    f"{folder}: sync deferred: {busy}",
                    f"finish it in {folder}; "
                    + (
                        "the running service syncs it once that is done"
                        if running_pid() is not None
                        else "then `rulesync apply` there (no service is running)"
                    ),
                )
            )
        if plan.conflicts:
            names = ", ".join(a.path for a in plan.conflicts)
            checks.append(
                Check(
                    "project",
                    WARN,
                    f"{folder}: {len(plan.conflicts)} conflict(s) left alone: {names}",
                    f"`rulesync -C {_arg(folder)} diff`, then keep yours with `exclude:` or "
                    f"`rulesync -C {_arg(folder)} apply --force` (saves your version first)",
                )
            )
        ignored = ignored_outputs(project)
        if ignored:
            names = ", ".join(sorted({owner_name(p) for p in ignored}))
            checks.append(
                Check(
                    "project",
                    WARN,
                    f"{folder}: git ignores {len(ignored)} file(s) rulesync writes for {names} "
                    f"(e.g. {ignored[0]}): they are never committed, so no teammate gets them",
                    f"stop ignoring them in .gitignore; `git -C {_arg(folder)} check-ignore -v "
                    f"{shlex.quote(ignored[0])}` names the pattern",
                )
            )
    if not checks:
        note = "" if projects else " (`rulesync init` in a project registers it)"
        checks.append(
            Check("registry", OK, f"{len(projects)} project(s) in {path}, every marker loads{note}")
        )
    return Registered(checks, len(projects), None if watched is None else frozenset(watched))


def ignored_outputs(project: Project) -> list[str]:
    """The files and block files the enabled targets write that git ignores and does not
    track (project-relative, sorted): a rule nobody commits reaches no teammate."""
    if project.git is None:
        return []
    rel = TopPaths(project.root, project.git.top)
    wanted = {rel(p): p for p in (*project.output.files, *project.output.blocks)}
    return sorted(wanted[p] for p in ignored_paths(project.git.top, sorted(wanted)))


def owner_name(path: str) -> str:
    """The target writing `path`."""
    target = owner(path)
    return target.name if target is not None else "?"


def _arg(path: Path) -> str:
    return shlex.quote(str(path))


# --- all of them ----------------------------------------------------------------------------


def run_checks() -> list[Check]:
    """Every check, in the order the report prints them."""
    from rulesync import units

    config_check, config = check_config()
    checks = [check_git(git_version())]
    if checks[0].level == FAIL:
        checks.append(Check("identity", WARN, "not checked: git is not on PATH"))
    else:
        # The default read from an instance: on a NamedTuple, the class's attribute is the
        # field's accessor, not its default.
        author = (config or Config()).commit_author
        checks.append(check_identity(global_identity(), author))
    checks.append(config_check)
    registered = check_registry(config)
    projects = registered.projects
    watches = None if registered.watched is None else len(registered.watched)
    state = units.status(units.find_manager())
    checks.append(check_inotify(read_inotify(state.pid), projects, sys.platform, watches))
    checks.append(check_service(state, projects))
    checks += registered.checks
    return checks


def summary(checks: list[Check]) -> dict[str, int]:
    """How many checks ended at each level."""
    return {level: sum(1 for c in checks if c.level == level) for level in (OK, WARN, FAIL)}
