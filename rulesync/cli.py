"""The command line: read the arguments, dispatch to `rulesync.commands`, one error edge.

A plain `check` or `apply` (the commands a hook, an editor or a script runs again and again)
is read here without argparse; everything else, `--help` and every usage error included, goes
through the argparse tree in `rulesync.arguments`, so what they print is one thing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, NoReturn, cast

from rulesync import __version__
from rulesync.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    InvalidInput,
    RulesyncError,
    os_error_text,
)

if TYPE_CHECKING:
    import argparse

# The commands read without argparse, and each one's flags (option → its attribute). They
# must say what the argparse tree says (tests/test_cli_parser.py compares the two).
QUICK_FLAGS = {
    "check": {"--json": "json", "--verbose": "list_yours"},
    "apply": {
        "--json": "json",
        "--dry-run": "dry_run",
        "--no-commit": "no_commit",
        "--force": "force",
        "--update": "update",
        "--accept-rewrite": "accept_rewrite",
    },
}


def quick_arguments(argv: Sequence[str]) -> argparse.Namespace | None:
    """The arguments of a plain `check` or `apply`: `-C PATH` and `-v` before the command, its
    own flags after it, each written out whole. None for anything else, which argparse reads
    (with its abbreviations, its help and its error messages)."""
    chdir: str | None = None
    verbose = at = 0
    while at < len(argv) and argv[at] in ("-C", "-v", "--verbose"):
        if argv[at] != "-C":
            verbose, at = verbose + 1, at + 1
        elif at + 1 == len(argv) or argv[at + 1].startswith("-"):
            return None  # argparse says what is missing
        else:
            chdir, at = argv[at + 1], at + 2
    flags = QUICK_FLAGS.get(argv[at]) if at < len(argv) else None
    if flags is None:
        return None
    given = dict.fromkeys(flags.values(), False)
    for flag in argv[at + 1 :]:
        if flag not in flags:
            return None
        given[flags[flag]] = True
    # Read by attribute, as argparse's Namespace is: the commands cannot tell them apart.
    args = SimpleNamespace(command=argv[at], chdir=chdir, verbose=verbose, **given)
    return cast("argparse.Namespace", args)


def _dispatch(name: str) -> Callable[[argparse.Namespace], int]:
    import importlib

    # `import` is a Python keyword: its module is `import_`.
    module = importlib.import_module(f"rulesync.commands.{name}{'_' if name == 'import' else ''}")
    run: Callable[[argparse.Namespace], int] = module.run
    return run


def crash_report(exc: BaseException) -> Path | None:
    """Write `exc`'s traceback to a new file under the log folder (a temporary folder if that
    is not writable); its path, or None when no file could be written."""
    import tempfile
    import time
    import traceback

    from rulesync import private
    from rulesync.paths import log_dir
    from rulesync.redact import scrub

    text = scrub(
        f"rulesync {__version__} internal error\n"
        f"command line: {' '.join(sys.argv)}\ncwd: {os.getcwd()}\n\n"
        + "".join(traceback.format_exception(exc))
    )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for folder in (log_dir, lambda: Path(tempfile.gettempdir())):
        try:
            where = folder()
            private.folder(where)
            fd, name = tempfile.mkstemp(prefix=f"crash-{stamp}-", suffix=".log", dir=where)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            return Path(name)
        except Exception:  # a crash report must never crash
            continue
    return None


def guarded(command: Callable[[], int]) -> int:
    """Run `command` behind the one error edge: rulesync's errors become one line and their
    exit code; anything unexpected becomes exit 3 and a crash file holding the traceback."""
    try:
        return command()
    except RulesyncError as exc:
        print(f"rulesync: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (`| head`) went away: what it wanted is printed.
        return EXIT_OK
    except OSError as exc:
        # Reading failed before any write (writes are wrapped in WriteFailed by the commands
        # that make them): nothing changed.
        print(f"rulesync: {os_error_text(exc)}", file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:  # the edge: anything else is a bug
        report = crash_report(exc)
        where = f"the traceback is in {report}" if report else "no crash file could be written"
        detail = (str(exc).splitlines() or [""])[0][:200]
        print(
            f"rulesync: internal error ({type(exc).__name__}: {detail}); {where}; "
            "please report it with that file",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run one command, turn errors into one line and an exit code."""
    arguments = sys.argv[1:] if argv is None else argv
    args = quick_arguments(arguments)
    if args is None:
        from rulesync.arguments import build_parser

        parser = build_parser()
        args = parser.parse_args(arguments)
        if not args.command:
            parser.print_help(sys.stderr)
            return EXIT_INVALID
    if args.verbose and args.command != "daemon":
        from rulesync.logs import configure_cli

        configure_cli(args.verbose)

    def command() -> int:
        if args.chdir:
            try:
                os.chdir(args.chdir)
            except FileNotFoundError:
                raise InvalidInput(f"-C {args.chdir}: does not exist") from None
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise InvalidInput(f"-C {args.chdir}: {reason}") from None
        return _dispatch(args.command)(args)

    from rulesync.terminal import printable_output

    with printable_output():
        return guarded(command)


def entry() -> NoReturn:
    """The `rulesync` command: run main(), then end the process at once.

    Once the command is done, Python's own teardown (freeing some 200 modules and every
    object) is about a tenth of a short run's time and does nothing the OS won't do. So,
    unless other threads still run: the exit functions run (logging's flush, temporary
    folders' cleanup), standard output and error are flushed, and the process exits.
    """
    code = main()
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # The reader may have gone away, or the stream been closed.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
