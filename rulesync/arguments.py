"""What each command accepts: the argparse tree, with every command's help and exit codes.

Built only when a run needs it: `rulesync --help`, a usage error, and every command but a
plain `check` or `apply`, which `rulesync.cli` reads itself (argparse and the tree are a
visible part of their start-up)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from rulesync import __version__
from rulesync.errors import EXIT_INVALID
from rulesync.suggest import did_you_mean

# Every command's 2 and 3, unless the command says more about its own 2.
COMMON_EXITS = (
    "  2  invalid input or usage: nothing was changed\n"
    "  3  internal error: one line names the log file that holds the traceback"
)
FETCH_FAILED = "the library could not be fetched (the next run fetches again)"
SYNC_EXITS = (
    "  0  in sync (the changes, if any, are written and committed)\n"
    "  1  not in sync: a conflict left as it is, the sync deferred (repository busy,\n"
    "     another rulesync holding the lock), or a library fetch or a commit that failed\n"
    "     (the next run retries)"
)
# What 0 and 1 mean for each command (and 2 where it says more than COMMON_EXITS).
EXITS = {
    "init": SYNC_EXITS,
    "apply": SYNC_EXITS + "\n     (with --dry-run: 1 = the plan has conflicts)",
    "check": "  0  every target's files are exactly what `apply` would produce\n"
    "  1  drift: files to add, change or delete, a conflict, or the manifest out of date;\n"
    "     or the pinned library revision could not be fetched",
    "diff": f"  0  no difference\n  1  a difference (printed), or {FETCH_FAILED}",
    "status": "  0  the status was printed (drift and conflicts are reported, not an exit code)\n"
    f"  1  {FETCH_FAILED}, or git could not read the history",
    "phase": SYNC_EXITS.replace("in sync (the changes", "printed, or set and in sync (changes"),
    "tiers": f"  0  the tiers were printed\n  1  {FETCH_FAILED}",
    "lint": "  0  no errors (with --strict: no warnings either)\n"
    "  1  an error was found (with --strict: a warning too)",
    "explain": f"  0  the explanation was printed\n  1  {FETCH_FAILED}",
    "readiness": f"  0  the readiness was printed (met or not)\n  1  {FETCH_FAILED}",
    "log": "  0  the history was printed\n  1  git could not read the history",
    "library": SYNC_EXITS.replace("in sync (the changes", "printed, or set and in sync (changes"),
    "projects": "  0  done; for `list`: every registered project is in sync\n"
    "  1  `list`: a project is not in sync (drift, conflict, deferred, failing or missing)",
    "fleet": "  0  every repository is in sync and on its library's newest revision\n"
    "  1  a repository is behind its library, drifted, in conflict, deferred or unreachable",
    "daemon": "  0  stopped by SIGTERM / SIGINT\n  1  stopped by a fatal error (logged)\n"
    "  2  invalid usage or config, or another service is already running: nothing started",
    "service": "  0  done (or nothing to do)\n"
    "  2  invalid usage, no user service manager here, or a step failed: everything was\n"
    "     undone",
    "doctor": "  0  no FAIL (warnings may remain)\n  1  a check reported FAIL",
    "import": "  0  the library was written and lint finds no error in it (files that could not\n"
    "     be converted are named with the reason)\n"
    "  1  the library was written, but lint reports an error in it",
}
# What 2 also means for a command, said after the table.
EXIT_NOTES = {
    "init": "2 is also init stopping to ask: the folder already has rules or assistant files of\n"
    "its own and neither --import nor --library was given (it printed them and the choices;\n"
    "nothing was written).",
    "import": "2 is also: nothing to import, the tier exists already, or a PATH outside the\n"
    "repository or reached through a symlink (nothing was written).",
}
# The same for a command's own actions.
ACTION_EXITS = {
    "projects add": "  0  registered (or already registered)",
    "projects remove": "  0  unregistered (or not registered)",
}
GENERAL_EXITS = (
    "exit codes:\n  0  success / in sync\n"
    "  1  not in sync: drift, a conflict, a deferral, a fetch or commit the next run retries\n"
    f"{COMMON_EXITS}\n`rulesync COMMAND --help` says what 1 means for that command."
)
_INVALID_CHOICE = re.compile(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)")


def _terminal_columns() -> int:
    """The width `shutil.get_terminal_size` gives (COLUMNS, else the terminal, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    def _get_formatter(self) -> argparse.HelpFormatter:
        # Every parser keeps its description and epilog as written (the exit-code tables).
        # argparse builds a formatter for every argument added, and without a width each one
        # imports shutil (which loads bz2 and lzma) to ask for it: a visible part of a cold
        # start. The same width, less the two columns argparse keeps free.
        return argparse.RawDescriptionHelpFormatter(self.prog, width=_terminal_columns() - 2)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self._unrecognized(parsed, extras)
        return parsed

    def _unrecognized(self, parsed: argparse.Namespace, extras: list[str]) -> NoReturn:
        """An unknown argument is the command's to report: its usage, and the option it
        most likely misspells, or where a global option (`-C`) goes."""
        command = getattr(parsed, "command", None)
        parser: argparse.ArgumentParser = self
        chosen = True
        while chosen:  # down to the innermost parser chosen (`projects add`)
            chosen = False
            for action in parser._actions:
                if not isinstance(action, argparse._SubParsersAction):
                    continue
                inner = action._name_parser_map.get(getattr(parsed, action.dest, None) or "")
                if inner is not None:
                    parser, chosen = inner, True
                    break
        known = [o for o in parser._option_string_actions if o.startswith("--")]
        shown, hints = [], []
        for at, extra in enumerate(extras):
            option = extra.split("=", 1)[0]
            if parser is not self and option in self._option_string_actions:
                before = " ".join(extras[at : at + 2]) if option == "-C" else extra
                hints.append(
                    f"`{option}` goes before the command, as in git: "
                    f"`rulesync {before} {command} …`"
                )
            elif option.startswith("--"):
                extra += did_you_mean(option, known)
            shown.append(extra)
        detail = "".join(f"; {hint}" for hint in hints)
        parser.error(f"unrecognized arguments: {' '.join(shown)}{detail}")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        match = _INVALID_CHOICE.search(message)
        if match:
            choices = [c.strip().strip("'") for c in match.group(3).split(",")]
            message = f"{message}{did_you_mean(match.group(2), choices)}"
        self.exit(EXIT_INVALID, f"rulesync: error: {message}\n")


def _epilog(command: str) -> str:
    """The exit-code table of `command`: its own meanings, then the common ones it does not
    restate (each code once), then any note on them."""
    own = EXITS.get(command) or ACTION_EXITS.get(command, "  0  success")
    said = {line[:5] for line in own.splitlines()}
    common = [line for line in COMMON_EXITS.splitlines() if line[:5] not in said]
    text = "exit codes:\n" + "\n".join([own, *common])
    note = EXIT_NOTES.get(command)
    return f"{text}\n{note}" if note else text


Arguments = Callable[[_Parser], None]
if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[_Parser]
else:  # not subscriptable at run time
    _SubParsers = argparse._SubParsersAction


class _Commands(_SubParsers):
    """The commands, each one's parser built only when it is the one run: building them all
    (a formatter and help texts per argument) is a visible part of a cold start, and a run
    needs one. `rulesync --help` lists them all from their one-line help, as before."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arguments: dict[str, tuple[str, Arguments | None, bool]] = {}
        # The names argparse accepts and lists in its error; it only tests membership and
        # iterates them, so the declared commands stand in for their unbuilt parsers.
        self.choices = self._arguments  # type: ignore[assignment]

    def command(
        self, name: str, help_text: str, arguments: Arguments | None = None, *, json: bool = False
    ) -> None:
        """Declare a command: its one-line help, and what adds its own arguments."""
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), help_text))
        self._arguments[name] = (help_text, arguments, json)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        name = values[0]
        if name not in self._name_parser_map:
            help_text, arguments, json = self._arguments[name]
            command = self.add_parser(
                name,
                description=help_text,
                epilog=_epilog(name),
            )
            if json:
                command.add_argument("--json", action="store_true", help="print one JSON document")
            if arguments is not None:
                arguments(command)
        super().__call__(parser, namespace, values, option_string)


def _init(p: _Parser) -> None:
    p.add_argument(
        "path", nargs="?", default=".", help="project folder, created if missing (default: here)"
    )
    p.add_argument("--phase", default=None, help="phase for a new marker (default: the first tier)")
    p.add_argument(
        "--no-register", action="store_true", help="do not add it to the service's registry"
    )
    choice = p.add_mutually_exclusive_group()
    choice.add_argument(
        "--import",
        dest="import_rules",
        action="store_true",
        help="make the repository's own rules its library (.rulesync/library), then apply",
    )
    choice.add_argument(
        "--library",
        metavar="default|PATH|URL",
        help="the library to follow (a repository with rules of its own: use it alongside)",
    )
    p.add_argument(
        "--nested",
        action="store_true",
        help="allow a project inside another project's folder (refused otherwise: that "
        "project already holds this folder)",
    )
    p.add_argument(
        "--allow-home",
        action="store_true",
        help="allow a project in the home folder (refused otherwise: it would hold every "
        "folder under it)",
    )


def _apply(p: _Parser) -> None:
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


def _check(p: _Parser) -> None:
    p.add_argument(
        "--verbose",
        dest="list_yours",
        action="store_true",
        help="also list the repository's own rules beside rulesync's (yours, not managed)",
    )


def _import(p: _Parser) -> None:
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="rules folders in the repository (default: every tool's: .cursor/rules, "
        ".claude/rules, .github/instructions, .devin/rules, .windsurf/rules, .kiro/steering, "
        ".clinerules)",
    )
    p.add_argument(
        "--into", required=True, metavar="LIBRARY", help="the library folder (created if absent)"
    )
    p.add_argument("--tier", default="basic", help="the tier to write (default: basic)")


def _phase(p: _Parser) -> None:
    p.add_argument(
        "new",
        nargs="?",
        help="the new phase: a tier name or `auto` (not while a merge, rebase… is in "
        "progress: aborting it would drop the edit)",
    )
    p.add_argument("--no-apply", action="store_true", help="set the phase without applying")


def _tiers(p: _Parser) -> None:
    p.add_argument(
        "--library",
        help="`default`, a library folder or a git URL[#ref] (default: the project's)",
    )


def _lint(p: _Parser) -> None:
    p.add_argument("path", nargs="?", help="library, folder or file (default: the bundled library)")
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    p.add_argument(
        "--targets",
        metavar="A,B,…",
        help="warn where these targets' assistants would load a rule twice or not at all "
        "(default: the targets config.yaml enables)",
    )


def _explain(p: _Parser) -> None:
    p.add_argument("path", nargs="?", help="a file in the project (default: the always-on budget)")
    p.add_argument("--tier", help="explain another tier than the project's")
    p.add_argument("--target", help="only this target (default: the project's enabled targets)")


def _log(p: _Parser) -> None:
    p.add_argument("-n", "--max-count", type=int, default=None, help="at most N commits")


def _projects(p: _Parser) -> None:
    psub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    lp = psub.add_parser(
        "list",
        help="every registered project: phase, tier, state, last sync",
        description="Every registered project with its phase, tier, library revision, state, "
        "last sync and last rulesync commit.",
        epilog=_epilog("projects"),
    )
    lp.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document"
    )
    folder_help = "the project folder (the one holding .rulesync.yaml)"
    ap = psub.add_parser(
        "add",
        help="register a project",
        description="Register a project.",
        epilog=_epilog("projects add"),
    )
    ap.add_argument("path", metavar="PATH", help=folder_help)
    rp = psub.add_parser(
        "remove",
        help="unregister a project",
        description="Unregister a project (no file changes).",
        epilog=_epilog("projects remove"),
    )
    rp.add_argument("path", metavar="PATH", help=folder_help)


def _library(p: _Parser) -> None:
    p.add_argument("action", nargs="?", choices=("set",), help="set: change the library")
    p.add_argument("spec", nargs="?", metavar="URL[#ref]", help="`default`, a folder or a URL")


def _fleet(p: _Parser) -> None:
    p.add_argument("repositories", nargs="*", metavar="URL|PATH", help="repositories to read")
    p.add_argument("--registry", action="store_true", help="every project in the registry too")
    p.add_argument("--html", metavar="FILE", help="also write one self-contained HTML page")
    p.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="how long each network step may take (default: 20)",
    )


def _service(p: _Parser) -> None:
    p.add_argument(
        "action",
        nargs="?",
        choices=("install", "uninstall", "status"),
        help="install, uninstall or status (alone: status)",
    )
    p.add_argument("--dry-run", action="store_true", help="show what would be done")


def build_parser() -> _Parser:
    """The command tree (each command's own parser is built when that command runs)."""
    parser = _Parser(
        prog="rulesync",
        description="Keep a project's Cursor rules in step with its maturity phase.",
        epilog=GENERAL_EXITS,
    )
    parser.add_argument("-C", dest="chdir", metavar="PATH", help="run as if started in PATH")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")
    parser.add_argument("--version", action="version", version=f"rulesync {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, action=_Commands
    )
    assert isinstance(sub, _Commands)
    sub.command("init", "create .rulesync.yaml if absent, register the project, apply", _init)
    sub.command(
        "import",
        "make the repository's own rules a library (or a new tier of one)",
        _import,
        json=True,
    )
    sub.command("apply", "write the phase's tier for every target, then commit", _apply, json=True)
    sub.command(
        "check", "exit 1 if the targets' files differ from what apply makes", _check, json=True
    )
    sub.command("diff", "unified diff of what apply would change", json=True)
    sub.command(
        "status", "phase, tier, managed rules, drift, conflicts, last commit, service", json=True
    )
    sub.command(
        "phase", "print the phase, or set it (only the `phase:` line changes)", _phase, json=True
    )
    sub.command(
        "tiers", "the library's tiers in order, with their resolved rules", _tiers, json=True
    )
    sub.command("lint", "validate a library, a folder of .mdc files or one file", _lint, json=True)
    sub.command(
        "explain",
        "which rules attach to PATH and why; without PATH, the context budget",
        _explain,
        json=True,
    )
    sub.command("readiness", "the next tiers' criteria against the marker's metrics", json=True)
    sub.command("log", "the project's rule history from rulesync's commits", _log, json=True)
    sub.command(
        "library",
        "the library the project follows; `set URL[#ref]` changes it in one commit",
        _library,
        json=True,
    )
    sub.command(
        "projects",
        "the registered projects and their state (alone: list them)",
        _projects,
        json=True,
    )
    sub.command(
        "fleet",
        "read-only view across repositories: phase, library revision, drift, readiness",
        _fleet,
        json=True,
    )
    sub.command("daemon", "run the service in the foreground (what the unit runs)")
    sub.command(
        "service",
        "install, remove or inspect the user service (systemd / launchd)",
        _service,
        json=True,
    )
    sub.command(
        "doctor", "check git, identity, inotify limits, the service and the registry", json=True
    )
    return parser
