"""`rulesync init [PATH] [--phase P]`: write a marker if absent, register the project, apply."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rulesync.commands._common import check_phase, config, registration_note, sync_project
from rulesync.commands.apply import print_result
from rulesync.errors import InvalidInput, RulesyncError
from rulesync.git import find_git, run_git
from rulesync.marker import MARKER, default_marker_text, find_root, parse_marker, write_marker
from rulesync.project import choose_library
from rulesync.registry import add_project


def run(args: argparse.Namespace) -> int:
    root = Path(os.path.abspath(os.path.expanduser(args.path)))
    if os.path.lexists(root) and not root.is_dir():
        raise InvalidInput(f"{root}: exists but is not a folder")
    cfg = config()
    marker_path = root / MARKER
    if os.path.lexists(marker_path):
        print(f"{marker_path}: exists, kept as it is")
        if args.phase:
            print("  (--phase ignored: use `rulesync phase NEW` to change it)")
    else:
        _refuse_home(root, args)
        _refuse_nested(root, args)
        library = choose_library(parse_marker(b"phase: auto\n", root), cfg)
        phase = args.phase or library.tiers[0].name
        check_phase(phase, library, "--phase")  # before anything is created
        if not root.exists():
            # As `git init DIR` does: the folder and any missing parents, and a repository for
            # the rules' history unless the new folder already sits inside one.
            root.mkdir(parents=True)
            if find_git(root) is None:
                run_git(root, "init", "--quiet")
                print(f"created {root} (a new git repository)")
            else:
                print(f"created {root}")
        write_marker(root, default_marker_text(phase))
        print(f"wrote {marker_path} (phase: {phase})")
    try:
        result = sync_project(root, cfg, verbose=args.verbose)
    except InvalidInput:
        raise  # a marker or library to fix first: the project is not registered either
    except RulesyncError:
        _register(root, args)  # deferred or failed: the service retries it
        raise
    print_result(result)
    _register(root, args)
    return result.exit_code


def _refuse_home(root: Path, args: argparse.Namespace) -> None:
    """A marker in the home folder would make every folder under it one project: every
    command run anywhere below would sync it. Only with --allow-home."""
    home = Path(os.path.expanduser("~"))
    if not args.allow_home and os.path.realpath(root) == os.path.realpath(home):
        raise InvalidInput(
            f"{root}: this is your home folder; a project here would hold every folder under "
            "it (each command run below it would sync this one): run `rulesync init` in the "
            "project's own folder, or pass --allow-home if you mean it"
        )


def _refuse_nested(root: Path, args: argparse.Namespace) -> None:
    """A folder inside a project already belongs to that project: `rulesync apply` there syncs
    it. A project of its own inside it only with --nested."""
    try:
        outer = find_root(root.parent)
    except InvalidInput:
        return
    if not args.nested:
        raise InvalidInput(
            f"{root}: inside the project at {outer} (its marker {outer / MARKER}), which "
            f"`rulesync apply` here already syncs; to make {root.name} a project of its own, "
            "nested in that one, pass --nested"
        )


def _register(root: Path, args: argparse.Namespace) -> None:
    """Add the project to the service's registry (unless --no-register) and say what that
    means now."""
    if not args.no_register and add_project(root):
        print(f"registered {root}: {registration_note(root)}")
