"""Small helpers every command uses: the project, the user's config, one sync with its errors
made true for the command line, and what the service will do about a project."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rulesync.config import Config, load_config
from rulesync.errors import Deferred, InvalidInput, RulesyncError, WriteFailed, os_error_text
from rulesync.library import RESERVED_PHASES, Library
from rulesync.marker import find_root
from rulesync.suggest import did_you_mean

if TYPE_CHECKING:
    from rulesync.sync import SyncResult


def project_root() -> Path:
    """The project around the current folder (walks up to `.rulesync.yaml`)."""
    return find_root(Path.cwd())


def config() -> Config:
    """The user's config (defaults when absent)."""
    return load_config()


def is_registered(root: Path) -> bool:
    """True when `root` is in the service's registry (False when the registry is unreadable:
    the service cannot read it either)."""
    from rulesync.registry import load_projects

    try:
        return Path(os.path.abspath(root)) in load_projects()
    except RulesyncError:
        return False


def watched_by_service(root: Path) -> int | None:
    """The pid of a running service that has `root` in its registry, else None."""
    from rulesync.runtime import running_pid

    pid = running_pid()
    if pid is None or not is_registered(root):
        return None
    return pid


def service_note(root: Path) -> str:
    """What happens next to a project whose sync is deferred: who syncs it, and when."""
    pid = watched_by_service(root)
    if pid is not None:
        return f"the service (pid {pid}) syncs it once that is done"
    return "no running service watches it: run `rulesync apply` once that is done"


def registration_note(root: Path) -> str:
    """What registering `root` means right now: the service syncs it, or nothing does yet."""
    from rulesync.units import find_manager

    pid = watched_by_service(root)
    if pid is not None:
        return f"the service (pid {pid}) keeps it in sync from now on"
    manager = find_manager()  # what `doctor` and `service install` find too
    if manager.reachable:
        start = "`rulesync service install` starts one"
    else:
        start = (
            f"no user service manager is reachable here ({manager.unreachable}), so run "
            "`rulesync daemon` yourself in a terminal you keep open"
        )
    return (
        f"no service is running, so nothing syncs it by itself yet: {start} (or run "
        "`rulesync apply` after each change)"
    )


def log_result(result: SyncResult) -> None:
    """The `sync.applied` / `sync.noop` event `-v` prints, with the service's keys."""
    from rulesync.logs import get_logger
    from rulesync.report import count_fields

    get_logger(project=str(result.root)).info(
        "sync.applied" if result.applied or result.commit else "sync.noop",
        phase=result.phase,
        tier=result.tier,
        **count_fields(result.plan),
        commit=result.commit,
        duration_ms=round(result.seconds * 1000, 1),
    )


def sync_project(root: Path, cfg: Config, *, verbose: int = 0, **options: Any) -> SyncResult:
    """`sync()` for a command: a deferral says what happens next; a write that failed midway
    is WriteFailed (exit 1, the next run finishes it), never "nothing changed"; with `-v`,
    the result is logged as the service logs it."""
    from rulesync.sync import sync

    def waiting(holder: str) -> None:
        print(
            f"rulesync: waiting for {holder} to finish with {root} "
            f"(at most {cfg.lock_timeout:g} s) …",
            file=sys.stderr,
            flush=True,
        )

    try:
        result = sync(root, cfg, holder="a `rulesync` command", waiting=waiting, **options)
    except Deferred as exc:
        raise type(exc)(f"{exc}; nothing was changed; {service_note(root)}") from None
    except OSError as exc:
        raise WriteFailed(
            f"{os_error_text(exc)}; the sync stopped before it finished (files may be partly "
            "written): fix that and run `rulesync apply` again to finish"
        ) from None
    if verbose:
        log_result(result)
    return result


def check_phase(phase: str, library: Library, given_as: str) -> None:
    """Refuse a phase typed on the command line that the library does not have, naming it as
    typed (`given_as`), never the marker file, which does not hold it."""
    valid = (*library.tier_names, *RESERVED_PHASES)
    if phase not in valid:
        raise InvalidInput(
            f"{given_as}: unknown phase `{phase}`{did_you_mean(phase, valid)}; "
            f"valid: {', '.join(valid)}"
        )
