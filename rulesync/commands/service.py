"""`rulesync service install | uninstall | status [--dry-run]`: the systemd user unit or
launchd agent that runs `rulesync daemon`."""

from __future__ import annotations

import argparse
import shlex
import sys

from rulesync import units
from rulesync.errors import EXIT_INVALID, EXIT_OK, InvalidInput
from rulesync.report import emit_json

NAMES = {"systemd": "systemd user manager", "launchd": "launchd (gui domain)", None: "none"}


def _no_manager(manager: units.Manager) -> int:
    print(
        f"rulesync: no user service manager is reachable here: {manager.unreachable}",
        file=sys.stderr,
    )
    lines = [
        "This is usual in containers, CI and SSH sessions without a login session; "
        "nothing was installed.",
    ]
    if manager.kind == "systemd":
        lines.append(
            "On a machine with systemd, `loginctl enable-linger $USER` (once) gives you a user "
            "manager that runs without a login."
        )
    lines += units.manual_hint()
    print("\n".join(lines), file=sys.stderr)
    return EXIT_INVALID


def _install(manager: units.Manager, dry_run: bool) -> int:
    if dry_run:
        plan = units.plan_install(manager)
        state = "unchanged" if not plan.changed else ("changed" if plan.existed else "new")
        print(f"would write {plan.path} ({state}):")
        for line in plan.text.splitlines():
            print(f"    {line}".rstrip())
        print("would run:")
        for cmd in plan.commands:
            print(f"    {shlex.join(cmd)}")
        if not manager.reachable:
            print(
                f"note: no user service manager is reachable here ({manager.unreachable}), "
                "so `rulesync service install` would stop there and change nothing"
            )
        return EXIT_OK
    if not manager.reachable:
        return _no_manager(manager)
    result = units.install(manager)
    if not result.changed:
        print(f"already installed and running: {result.path}; nothing changed")
        return EXIT_OK
    for action in result.actions:
        print(action)
    if manager.kind == "systemd":
        print("logs: journalctl --user -u rulesync; status: rulesync service status")
    else:
        print("status: rulesync service status")
    return EXIT_OK


def _uninstall(manager: units.Manager, dry_run: bool) -> int:
    result = units.uninstall(manager, dry_run=dry_run)
    for action in result.actions:
        print(action)
    if result.changed and not dry_run:
        print("left alone: the registry, the config, the logs and every project")
    return EXIT_OK


def _status(manager: units.Manager, as_json: bool) -> int:
    state = units.status(manager)
    if as_json:
        unit = state.manager.unit_path
        emit_json(
            {
                "manager": manager.kind,
                "reachable": manager.reachable,
                "unreachable": manager.unreachable,
                "unit": str(unit) if unit is not None else None,
                "installed": state.installed,
                "ours": state.ours,
                "enabled": state.enabled,
                "active": state.active,
                "pid": state.pid,
                "under_manager": state.pid is not None and state.pid == state.manager_pid,
            }
        )
        return EXIT_OK
    print(f"manager:  {NAMES[manager.kind]}", end="")
    print(f" (not reachable: {manager.unreachable})" if not manager.reachable else "")
    if state.manager.unit_path is not None:
        if not state.installed:
            installed = "not installed"
        elif state.ours:
            installed = "installed"
        else:
            installed = "present, but not written by rulesync"
        print(f"unit:     {state.manager.unit_path} ({installed})")
    if state.enabled is not None or state.active is not None:
        print(f"enabled:  {state.enabled or '—'}; active: {state.active or '—'}")
    if state.pid is None:
        print("daemon:   not running")
    elif state.pid == state.manager_pid:
        print(f"daemon:   running (pid {state.pid}), under the service manager")
    else:
        print(f"daemon:   running (pid {state.pid}), started by hand")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Install, remove or inspect the user service."""
    if args.json and args.action not in (None, "status"):
        raise InvalidInput(f"rulesync service {args.action} --json: only `status` prints JSON")
    manager = units.find_manager()
    if args.action == "install":
        if manager.kind is None and not args.dry_run:
            return _no_manager(manager)
        return _install(manager, args.dry_run)
    if args.action == "uninstall":
        if manager.kind is None:
            print(f"nothing to remove: {manager.unreachable}")
            return EXIT_OK
        return _uninstall(manager, args.dry_run)
    code = _status(manager, args.json)
    if args.action is None and not args.json:
        print(
            "\n`rulesync service install` starts it at login, `rulesync service uninstall` "
            "removes it (`--dry-run` shows either first)"
        )
    return code
