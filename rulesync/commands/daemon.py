"""`rulesync daemon`: the service in the foreground (what the systemd or launchd unit runs)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    # Imported here: watchdog and structlog load only for the service.
    from rulesync.daemon import run_daemon

    return run_daemon(verbose=args.verbose)
