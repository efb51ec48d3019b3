"""Logging, configured once at the edge: structlog over the stdlib `logging` handlers.

JSON lines go to a rotated file in the platformdirs log folder (what tools and tests read);
readable lines go to stderr, coloured when stderr is a terminal, logfmt key=value otherwise (what
journald or a redirected file keeps). Everything else calls
`get_logger().info("sync.applied", project=..., added=3)`.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from rulesync import private
from rulesync.paths import log_dir
from rulesync.private import FILE_MODE
from rulesync.terminal import unfiltered

LOG_FILE = "rulesync.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3
LOGGER = "rulesync"


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A rotated log whose every file is 0600 (each rotation opens a new one)."""

    def _open(self) -> Any:
        fd = os.open(
            self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE
        )
        private.narrow(fd, FILE_MODE)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def log_path() -> Path:
    """The JSON log file the service writes (moves with XDG_STATE_HOME / the log dir)."""
    return log_dir() / LOG_FILE


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _redacted(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Every text value with its URLs' credentials removed (`redact.scrub`): a library URL
    from the user's config reaches events as a spec, and git's errors may quote it."""
    from rulesync.redact import scrub

    return {k: scrub(v) if isinstance(v, str) else v for k, v in event.items()}


def _printable(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Every text value fit for a terminal (`names.printable`): a value from a repository
    cannot drive the console that shows the log."""
    from rulesync.names import printable

    return {k: printable(v) if isinstance(v, str) else v for k, v in event.items()}


def configure(
    level: str = "info",
    *,
    log_file: Path | None = None,
    console: bool = True,
) -> None:
    """Send rulesync's events to `log_file` (JSON lines, rotated) and, with `console`, stderr.

    Safe to call again (SIGHUP, tests): the handlers are replaced, never added twice.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared = _shared_processors()
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(numeric)
    logger.propagate = False
    from rulesync import git

    git.TRACE = _trace_git if numeric <= logging.DEBUG else None

    if log_file is not None:
        private.folder(log_file.parent)
        to_file = _PrivateRotatingFile(
            log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
        to_file.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _redacted,
                    structlog.processors.JSONRenderer(sort_keys=True),
                ],
            )
        )
        logger.addHandler(to_file)

    if console:
        # The console handler escapes values itself (`_printable`), and keeps its colours:
        # it writes past the filter every other print goes through.
        stderr = unfiltered(sys.stderr)
        tty = stderr.isatty()
        renderer: Any = (
            structlog.dev.ConsoleRenderer(colors=True)
            if tty
            else structlog.processors.LogfmtRenderer(
                key_order=["timestamp", "level", "event"], drop_missing=True, bool_as_flag=False
            )
        )
        to_console = logging.StreamHandler(stderr)
        to_console.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *([] if tty else [structlog.processors.format_exc_info]),
                    _redacted,
                    _printable,
                    renderer,
                ],
            )
        )
        logger.addHandler(to_console)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def _trace_git(args: Sequence[str], status: int | None, ms: float) -> None:
    """One git command at the debug level: its arguments, exit status and milliseconds."""
    event = "git.started" if status is None else "git.ran"
    get_logger().debug(event, argv=" ".join(args), exit=status, ms=round(ms, 1))


def configure_cli(verbosity: int) -> None:
    """Console-only logging for a command run with `-v` (debug with `-vv`)."""
    configure("debug" if verbosity > 1 else "info", console=True)


Logger = structlog.stdlib.BoundLogger


def get_logger(**context: Any) -> Logger:
    """A structlog logger for rulesync's events, bound to `context`."""
    return structlog.stdlib.get_logger(LOGGER).bind(**context)
