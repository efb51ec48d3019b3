"""The command line: one argparse tree, dispatch to `rulesync.commands`, one error edge."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from rulesync import __version__
from rulesync.errors import EXIT_INVALID, RulesyncError

EXIT_CODES = """exit codes:
  0  success / in sync
  1  drift found (check), a conflict left unresolved, the sync was deferred
     (repository busy, another rulesync holding the lock), or git failed to commit
     (the files are written; the next run commits)
  2  invalid input or usage: nothing was changed"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"rulesync: error: {message}\n")


def _add(
    sub: argparse._SubParsersAction[_Parser], name: str, help_text: str, *, json: bool = False
) -> _Parser:
    parser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if json:
        parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def build_parser() -> _Parser:
    """The whole command tree."""
    parser = _Parser(
        prog="rulesync",
        description="Keep a project's Cursor rules in step with its maturity phase.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-C", dest="chdir", metavar="PATH", help="run as if started in PATH")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")
    parser.add_argument("--version", action="version", version=f"rulesync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = _add(sub, "init", "create .rulesync.yaml if absent, register the project, apply")
    p.add_argument("path", nargs="?", default=".", help="project folder (default: here)")
    p.add_argument("--phase", default=None, help="phase for a new marker (default: the first tier)")
    p.add_argument(
        "--no-register", action="store_true", help="do not add it to the service's registry"
    )

    p = _add(sub, "apply", "sync .cursor/rules with the phase's tier, then commit")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--no-commit", action="store_true", help="write the files but make no commit")
    p.add_argument("--force", action="store_true", help="replace conflicting files (saved first)")
    p.add_argument(
        "--update", action="store_true", help="fetch a git-served library's newest revision first"
    )
    p.add_argument(
        "--accept-rewrite",
        action="store_true",
        help="with --update: accept a library branch that was force-pushed",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")

    _add(sub, "check", "exit 1 if .cursor/rules differs from what apply would produce", json=True)
    _add(sub, "diff", "unified diff of what apply would change")
    _add(
        sub,
        "status",
        "phase, tier, managed rules, drift, conflicts, last commit, service",
        json=True,
    )

    p = _add(sub, "phase", "print the phase, or set it (only the `phase:` line changes)", json=True)
    p.add_argument("new", nargs="?", help="the new phase: a tier name or `auto`")
    p.add_argument("--no-apply", action="store_true", help="set the phase without applying")

    p = _add(sub, "tiers", "the library's tiers in order, with their resolved rules", json=True)
    p.add_argument("--library", help="`default` or a library folder (default: the project's)")

    p = _add(sub, "lint", "validate a library, a folder of .mdc files or one file", json=True)
    p.add_argument("path", nargs="?", help="library, folder or file (default: the bundled library)")
    p.add_argument("--strict", action="store_true", help="warnings fail too")

    p = _add(
        sub,
        "explain",
        "which rules attach to PATH and why; without PATH, the context budget",
        json=True,
    )
    p.add_argument("path", nargs="?", help="a file in the project (default: the always-on budget)")
    p.add_argument("--tier", help="explain another tier than the project's")

    _add(sub, "readiness", "the next tiers' criteria against the marker's metrics", json=True)
    p = _add(sub, "log", "the project's rule history from rulesync's commits", json=True)
    p.add_argument("-n", "--max-count", type=int, default=None, help="at most N commits")

    p = _add(sub, "projects", "the service's registry of projects")
    psub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    lp = psub.add_parser("list", help="list registered projects")
    lp.add_argument("--json", action="store_true", help="print one JSON document")
    psub.add_parser("add", help="register a project").add_argument("path")
    psub.add_parser("remove", help="unregister a project").add_argument("path")

    _add(sub, "daemon", "run the service in the foreground (what the unit runs)")

    p = _add(sub, "service", "install, remove or inspect the user service (systemd / launchd)")
    p.add_argument("action", choices=("install", "uninstall", "status"))
    p.add_argument("--dry-run", action="store_true", help="show what would be done")

    _add(
        sub,
        "doctor",
        "check git, identity, inotify limits, the service and the registry",
        json=True,
    )
    return parser


def _dispatch(name: str) -> Callable[[argparse.Namespace], int]:
    import importlib

    module = importlib.import_module(f"rulesync.commands.{name}")
    run: Callable[[argparse.Namespace], int] = module.run
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run one command, turn errors into one line and an exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_INVALID
    if args.verbose and args.command != "daemon":
        from rulesync.logs import configure_cli

        configure_cli(args.verbose)
    try:
        if args.chdir:
            try:
                os.chdir(args.chdir)
            except OSError as exc:
                raise RulesyncError(f"-C {args.chdir}: {exc.strerror}") from None
        return _dispatch(args.command)(args)
    except RulesyncError as exc:
        print(f"rulesync: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if args.verbose:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rulesync: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
