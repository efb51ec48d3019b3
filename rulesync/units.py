"""The user service: rendering the systemd unit / launchd agent and installing it.

Rendering is pure (template text + a `UnitSpec` → unit text). Installing is the thin shell
around it: write the file, drive `systemctl --user` or `launchctl`, and undo every step when
one fails, so `install` either fully succeeds or leaves the machine as it found it.

Templates live in the repository's `service/` folder and ship inside the wheel as
`rulesync/service_templates/`. Their placeholders: systemd `@EXEC_START@` (the quoted
command line) and `@ENVIRONMENT@` (`Environment=` lines); launchd `@PROGRAM_ARGUMENTS@`
(`<string>` lines), `@PATH@` and `@LOG_DIR@`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import escape as xml_escape

from rulesync.errors import InvalidInput, NoServiceManager, RulesyncError, ServiceError
from rulesync.fsutil import atomic_write
from rulesync.paths import log_dir
from rulesync.runtime import running_pid

UNIT_NAME = "rulesync.service"
LABEL = "com.rulesync.daemon"
SYSTEMD_TEMPLATE = "rulesync.service"
LAUNCHD_TEMPLATE = f"{LABEL}.plist"
# The first comment line of both templates: a unit file holding it is one rulesync wrote,
# so `uninstall` never removes a file of the same name that the user wrote by hand.
OWNER_MARK = "Installed by `rulesync service install`"
PASSED_ENVIRONMENT = ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")
DEFAULT_PATHS = {
    "systemd": ("/usr/local/bin", "/usr/bin", "/bin"),
    # launchd agents start with a bare PATH; Homebrew's git lives in one of the first two.
    "launchd": ("/opt/homebrew/bin", "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"),
}
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
MANAGER_TIMEOUT = 60.0


# --- rendering (pure) ---------------------------------------------------------------------


class UnitSpec(NamedTuple):
    """What a rendered unit needs: the daemon's command line and its environment."""

    command: tuple[str, ...]
    path: str
    environment: tuple[tuple[str, str], ...] = ()
    log_dir: str = ""


def _check_value(value: str, what: str) -> str:
    # A newline would end the unit's line (or the plist's string) and inject a directive.
    if "\n" in value or "\r" in value or "\0" in value:
        raise InvalidInput(f"{what} holds a line break or NUL; move it to a plain path")
    return value


def systemd_quote(word: str, *, variables: bool = True) -> str:
    """One word of a systemd setting: `%` specifiers escaped, and `$` where systemd expands
    variables (command arguments, but not the program's path nor `Environment=`); quoted
    when it holds spaces, quotes or backslashes."""
    _check_value(word, f"`{word!r}`")
    text = word.replace("%", "%%")
    if variables:
        text = text.replace("$", "$$")
    if text and not re.search(r"[\s\"'\\;]", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_systemd_unit(template: str, spec: UnitSpec) -> str:
    """The systemd user unit for `spec`, from the `service/rulesync.service` template."""
    lines = [f"Environment={systemd_quote('PATH=' + spec.path, variables=False)}"]
    lines += [
        f"Environment={systemd_quote(f'{name}={value}', variables=False)}"
        for name, value in spec.environment
    ]
    program, *arguments = spec.command
    words = [systemd_quote(program, variables=False), *map(systemd_quote, arguments)]
    text = template.replace("@EXEC_START@", " ".join(words))
    return _finish(text.replace("@ENVIRONMENT@", "\n".join(lines)), "systemd unit")


def render_launchd_plist(template: str, spec: UnitSpec) -> str:
    """The launchd agent for `spec`, from the `service/com.rulesync.daemon.plist` template."""
    arguments = "\n".join(
        f"    <string>{xml_escape(_check_value(w, 'the daemon command'))}</string>"
        for w in spec.command
    )
    text = template.replace("@PROGRAM_ARGUMENTS@", arguments)
    text = text.replace("@PATH@", xml_escape(_check_value(spec.path, "PATH")))
    text = text.replace("@LOG_DIR@", xml_escape(_check_value(spec.log_dir, "the log folder")))
    return _finish(text, "launchd plist")


def _finish(text: str, what: str) -> str:
    left = _PLACEHOLDER.findall(text)
    if left:
        raise RulesyncError(f"{what} template has unfilled placeholders: {', '.join(left)}")
    return text


def search_path(git: str | None, kind: str) -> str:
    """The daemon's PATH: git's folder first, then the platform's usual folders."""
    folders = [os.path.dirname(git)] if git else []
    folders += DEFAULT_PATHS[kind]
    return ":".join(dict.fromkeys(f for f in folders if f))


# --- this installation ----------------------------------------------------------------------


def daemon_command() -> tuple[str, ...]:
    """The absolute command line that runs *this* installation's service.

    The `rulesync` script beside the running interpreter (a venv's or pipx's `bin/`) is the
    one the user just ran; a bare `python -m rulesync` is the fallback for a source checkout.
    """
    beside = Path(os.path.abspath(sys.executable)).parent / "rulesync"
    if beside.is_file() and os.access(beside, os.X_OK):
        return (str(beside), "daemon")
    return (os.path.abspath(sys.executable), "-m", "rulesync", "daemon")


def template_text(name: str) -> str:
    """A unit template: from the wheel, or from `service/` in a source checkout."""
    from importlib.resources import files

    packaged = Path(str(files("rulesync"))) / "service_templates" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # An editable install or a source checkout keeps the templates at the repository's top.
    return (Path(__file__).resolve().parent.parent / "service" / name).read_text(encoding="utf-8")


def manager_kind(platform: str | None = None) -> str | None:
    """`systemd` on Linux, `launchd` on macOS, None elsewhere."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return "systemd"
    if platform == "darwin":
        return "launchd"
    return None


def current_spec(kind: str) -> UnitSpec:
    """The spec for this installation and this user's environment."""
    environment: tuple[tuple[str, str], ...] = ()
    if kind == "systemd":
        # platformdirs honours XDG_* on Linux only; the user manager does not see the
        # shell's values, so the unit carries them.
        environment = tuple(
            (name, os.environ[name])
            for name in PASSED_ENVIRONMENT
            if os.path.isabs(os.environ.get(name, ""))
        )
    return UnitSpec(
        command=daemon_command(),
        path=search_path(shutil.which("git"), kind),
        environment=environment,
        log_dir=str(log_dir()),
    )


def render(kind: str, spec: UnitSpec | None = None) -> str:
    """The unit text for `kind` (this installation's spec by default)."""
    spec = spec or current_spec(kind)
    if kind == "launchd":
        return render_launchd_plist(template_text(LAUNCHD_TEMPLATE), spec)
    return render_systemd_unit(template_text(SYSTEMD_TEMPLATE), spec)


def is_ours(text: str) -> bool:
    """True when a unit file's text is one rulesync rendered."""
    return OWNER_MARK in text[:400]


# --- the service manager --------------------------------------------------------------------


class Outcome(NamedTuple):
    """One manager command's result."""

    ok: bool
    out: str
    err: str

    def reason(self, cmd: Sequence[str]) -> str:
        """The first line the command printed about its failure."""
        text = self.err or self.out
        return text.splitlines()[0] if text else f"`{shlex.join(cmd)}` failed"


def _run(*cmd: str) -> Outcome:
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=MANAGER_TIMEOUT
        )
    except FileNotFoundError:
        return Outcome(False, "", f"{cmd[0]}: not found")
    except subprocess.TimeoutExpired:
        return Outcome(False, "", f"no answer after {MANAGER_TIMEOUT:.0f} s")
    return Outcome(proc.returncode == 0, proc.stdout.strip(), proc.stderr.strip())


def _systemctl(*args: str) -> tuple[str, ...]:
    return ("systemctl", "--user", *args)


def _gui_domain() -> str:
    return f"gui/{os.getuid()}"


def _launchd_target() -> str:
    return f"{_gui_domain()}/{LABEL}"


class Manager(NamedTuple):
    """The user's service manager as found now, and where it reads our unit from."""

    kind: str | None
    unit_path: Path | None
    unreachable: str | None

    @property
    def reachable(self) -> bool:
        return self.unreachable is None


def find_manager(platform: str | None = None) -> Manager:
    """Probe the user service manager (read-only): systemd on Linux, launchd on macOS."""
    kind = manager_kind(platform)
    if kind is None:
        return Manager(None, None, f"rulesync has no service manager support on {sys.platform}")
    if kind == "launchd":
        path = Path.home() / "Library" / "LaunchAgents" / LAUNCHD_TEMPLATE
        if not shutil.which("launchctl"):
            return Manager(kind, path, "launchctl is not installed")
        cmd: tuple[str, ...] = ("launchctl", "print", _gui_domain())
        outcome = _run(*cmd)
        return Manager(
            kind, path, None if outcome.ok else f"`{shlex.join(cmd)}`: {outcome.reason(cmd)}"
        )
    default = Path.home() / ".config" / "systemd" / "user" / UNIT_NAME
    if not shutil.which("systemctl"):
        return Manager(kind, default, "systemctl is not installed")
    cmd = _systemctl("show-environment")
    outcome = _run(*cmd)
    if not outcome.ok:
        return Manager(kind, default, f"`{shlex.join(cmd)}`: {outcome.reason(cmd)}")
    # The manager searches $XDG_CONFIG_HOME/systemd/user from *its* environment, which need
    # not match the shell's.
    env = dict(line.partition("=")[::2] for line in outcome.out.splitlines())
    config = env.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return Manager(kind, base / "systemd" / "user" / UNIT_NAME, None)


def manual_hint() -> list[str]:
    """How to run the service without a service manager."""
    command = "rulesync daemon" if shutil.which("rulesync") else shlex.join(daemon_command())
    return [
        "Run the service yourself instead, in the foreground (a terminal, tmux):",
        f"  {command}",
        "or in the background (it stops at logout or reboot):",
        f"  nohup {command} >/dev/null 2>&1 &",
        f"Its log goes to {log_dir()}.",
    ]


def _manager_pid(kind: str) -> int | None:
    if kind == "systemd":
        outcome = _run(*_systemctl("show", "--property=MainPID", "--value", UNIT_NAME))
        value = outcome.out if outcome.ok else ""
    else:
        outcome = _run("launchctl", "print", _launchd_target())
        match = re.search(r"^\s*pid = (\d+)", outcome.out, re.MULTILINE) if outcome.ok else None
        value = match.group(1) if match else ""
    return int(value) if value.isdigit() and int(value) > 0 else None


# --- install / uninstall --------------------------------------------------------------------


class Undo:
    """Steps that put things back, run newest first when a later step fails."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps: list[Callable[[], object]] = []

    def add(self, step: Callable[[], object]) -> None:
        """Remember one step that reverses something just done."""
        self.steps.append(step)

    def run(self) -> None:
        """Reverse everything recorded, newest first; a failing step does not stop the rest."""
        while self.steps:
            with contextlib.suppress(OSError):
                self.steps.pop()()


def make_dirs(folder: Path, undo: Undo) -> None:
    """`mkdir -p` that records each folder it created, so undo removes exactly those."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):  # outermost first: undo runs newest (deepest) first
        undo.add(created.rmdir)


def write_unit(path: Path, text: str, undo: Undo) -> None:
    """Write the unit file; undo restores the old file, or removes the new one and its folders."""
    old = path.read_bytes() if path.exists() else None
    make_dirs(path.parent, undo)
    atomic_write(path, text.encode("utf-8"))
    if old is None:
        undo.add(path.unlink)
    else:
        undo.add(lambda: atomic_write(path, old))


class InstallPlan(NamedTuple):
    """What `install` would do: the unit's text, whether it changes, the manager commands."""

    kind: str
    path: Path
    text: str
    existed: bool
    changed: bool
    commands: tuple[tuple[str, ...], ...]


def plan_install(manager: Manager) -> InstallPlan:
    """Render the unit and compare it with the installed one (read-only)."""
    if manager.kind is None or manager.unit_path is None:
        raise NoServiceManager(manager.kind, manager.unreachable or "no service manager")
    path = manager.unit_path
    text = render(manager.kind)
    old = path.read_text(encoding="utf-8", errors="replace") if path.exists() else None
    if old is not None and not is_ours(old):
        raise ServiceError(f"{path} exists and was not written by rulesync; move it away first")
    changed = old != text
    commands: list[tuple[str, ...]]
    if manager.kind == "systemd":
        commands = [_systemctl("daemon-reload")] if changed else []
        start = "restart" if changed and old is not None else "start"
        commands += [_systemctl("enable", UNIT_NAME), _systemctl(start, UNIT_NAME)]
    else:
        commands = [("launchctl", "bootout", _launchd_target())] if changed and old else []
        commands += [
            ("launchctl", "enable", _launchd_target()),
            ("launchctl", "bootstrap", _gui_domain(), str(path)),
        ]
    return InstallPlan(manager.kind, path, text, old is not None, changed, tuple(commands))


class Result(NamedTuple):
    """What `install` or `uninstall` did, for the command to print."""

    path: Path
    changed: bool
    actions: tuple[str, ...]


def _step(undo: Undo, cmd: tuple[str, ...]) -> None:
    outcome = _run(*cmd)
    if not outcome.ok:
        undo.run()
        raise ServiceError(
            f"`{shlex.join(cmd)}` failed: {outcome.reason(cmd)}; everything install did was undone"
        )


def _refuse_foreign_daemon(undo: Undo, kind: str) -> None:
    # One instance only: a daemon started by hand would make the managed one exit at once.
    pid = running_pid()
    if pid is not None and pid != _manager_pid(kind):
        undo.run()
        raise ServiceError(
            f"a rulesync daemon started by hand is already running (pid {pid}); "
            f"stop it (`kill {pid}`) and run `rulesync service install` again"
        )


def install(manager: Manager) -> Result:
    """Write the unit, enable and start it. Idempotent, and all-or-nothing: when a step
    fails, every earlier step is undone."""
    if not manager.reachable:
        raise NoServiceManager(manager.kind, manager.unreachable or "")
    plan = plan_install(manager)
    undo = Undo()
    actions: list[str] = []
    if plan.kind == "systemd":
        _install_systemd(plan, undo, actions)
    else:
        _install_launchd(plan, undo, actions)
    return Result(plan.path, plan.changed or bool(actions), tuple(actions))


def _install_systemd(plan: InstallPlan, undo: Undo, actions: list[str]) -> None:
    active = _run(*_systemctl("is-active", UNIT_NAME)).out == "active"
    # Undo runs newest first, so these run last: once the old unit file is back, reload it
    # and start the service again if it was running before.
    if active:
        undo.add(lambda: _run(*_systemctl("start", UNIT_NAME)))
    if plan.changed:
        undo.add(lambda: _run(*_systemctl("daemon-reload")))
        write_unit(plan.path, plan.text, undo)
        actions.append(f"wrote {plan.path}")
        _step(undo, _systemctl("daemon-reload"))
    _refuse_foreign_daemon(undo, "systemd")
    if _run(*_systemctl("is-enabled", UNIT_NAME)).out != "enabled":
        undo.add(lambda: _disable_systemd(plan.path))
        _step(undo, _systemctl("enable", UNIT_NAME))
        actions.append(f"enabled {UNIT_NAME} (starts with your session)")
    if active and plan.changed and plan.existed:
        _step(undo, _systemctl("restart", UNIT_NAME))
        actions.append(f"restarted {UNIT_NAME} with the new unit")
    elif not active:
        _step(undo, _systemctl("start", UNIT_NAME))
        actions.append(f"started {UNIT_NAME}")


def _install_launchd(plan: InstallPlan, undo: Undo, actions: list[str]) -> None:
    target = _launchd_target()
    loaded = _run("launchctl", "print", target).ok
    if loaded:
        # Runs last on undo, once the old plist is back: load it again.
        undo.add(lambda: _run("launchctl", "bootstrap", _gui_domain(), str(plan.path)))
    # launchd creates the log files but not their folder.
    make_dirs(log_dir(), undo)
    if plan.changed:
        write_unit(plan.path, plan.text, undo)
        actions.append(f"wrote {plan.path}")
    _refuse_foreign_daemon(undo, "launchd")
    if loaded and plan.changed:
        _step(undo, ("launchctl", "bootout", target))
        loaded = False
    if not loaded:
        # `enable` clears a `launchctl disable` left from earlier, which bootstrap would obey.
        _step(undo, ("launchctl", "enable", target))
        undo.add(lambda: _run("launchctl", "bootout", target))
        _step(undo, ("launchctl", "bootstrap", _gui_domain(), str(plan.path)))
        actions.append(f"loaded {LABEL} into {_gui_domain()} (starts at login)")
    elif _manager_pid("launchd") is None:
        _step(undo, ("launchctl", "kickstart", target))
        actions.append(f"started {LABEL}")


def _disable_systemd(path: Path) -> None:
    _run(*_systemctl("disable", "--now", UNIT_NAME))
    # `disable` removes the enablement link; without a reachable manager it cannot, so remove
    # it here when it points at our unit (and only then).
    link = path.parent / "default.target.wants" / UNIT_NAME
    if link.is_symlink() and os.path.realpath(link) == os.path.realpath(path):
        link.unlink()


def uninstall(manager: Manager, *, dry_run: bool = False) -> Result:
    """Stop and disable the service and remove the unit file: exactly what `install` added.
    Works without a reachable manager too (then it removes the file only)."""
    if manager.kind is None or manager.unit_path is None:
        raise NoServiceManager(manager.kind, manager.unreachable or "no service manager")
    path = manager.unit_path
    if path.exists() and not is_ours(path.read_text(encoding="utf-8", errors="replace")):
        raise ServiceError(f"{path} was not written by rulesync; leaving it alone")
    if manager.kind == "systemd":
        link = path.parent / "default.target.wants" / UNIT_NAME
        loaded = manager.reachable and _run(*_systemctl("cat", UNIT_NAME)).ok
        present = path.exists() or loaded or link.is_symlink()
        stop = [_systemctl("disable", "--now", UNIT_NAME)] if manager.reachable else []
    else:
        loaded = manager.reachable and _run("launchctl", "print", _launchd_target()).ok
        present = path.exists() or loaded
        stop = [("launchctl", "bootout", _launchd_target())] if loaded else []
    if not present:
        return Result(path, False, (f"not installed: {path} does not exist; nothing to remove",))
    ran, removed = ("would run", "would remove") if dry_run else ("ran", "removed")
    actions = [f"{ran} {shlex.join(cmd)}" for cmd in stop]
    if path.exists():
        actions.append(f"{removed} {path}")
    if not manager.reachable:
        actions.append(f"(no service manager is reachable here: {manager.unreachable})")
    if dry_run:
        return Result(path, True, tuple(actions))
    for cmd in stop:
        _run(*cmd)
    if manager.kind == "systemd":
        _disable_systemd(path)
    path.unlink(missing_ok=True)
    if manager.kind == "systemd" and manager.reachable:
        _run(*_systemctl("daemon-reload"))
        _run(*_systemctl("reset-failed", UNIT_NAME))
    return Result(path, True, tuple(actions))


# --- status ---------------------------------------------------------------------------------


class ServiceStatus(NamedTuple):
    """The unit file, what the manager says about it, and whether a daemon runs."""

    manager: Manager
    installed: bool
    ours: bool
    enabled: str | None
    active: str | None
    pid: int | None
    manager_pid: int | None

    @property
    def running(self) -> bool:
        return self.pid is not None


def status(manager: Manager) -> ServiceStatus:
    """Read-only: is the unit installed, enabled, active; does a daemon run."""
    pid = running_pid()
    path = manager.unit_path
    installed = path is not None and path.exists()
    ours = installed and path is not None and is_ours(path.read_text("utf-8", "replace"))
    enabled = active = None
    manager_pid = None
    if manager.reachable and manager.kind == "systemd":
        enabled = _run(*_systemctl("is-enabled", UNIT_NAME)).out or None
        active = _run(*_systemctl("is-active", UNIT_NAME)).out or None
        manager_pid = _manager_pid("systemd")
    elif manager.reachable and manager.kind == "launchd":
        enabled = "loaded" if _run("launchctl", "print", _launchd_target()).ok else "not loaded"
        manager_pid = _manager_pid("launchd")
        active = "running" if manager_pid else "not running"
    return ServiceStatus(manager, installed, ours, enabled, active, pid, manager_pid)
