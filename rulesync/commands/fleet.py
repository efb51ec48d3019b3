"""`rulesync fleet [URL|PATH…] [--registry]`: many repositories at a glance (read-only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rulesync.commands._common import config
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK, WriteFailed, os_error_text
from rulesync.fleet import fleet_doc, needs_attention, render_html, sources, survey
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    lines = survey(sources(args.repositories, args.registry), config(), timeout=args.timeout)
    if args.html:
        from rulesync.fsutil import atomic_write

        try:
            atomic_write(Path(args.html), render_html(lines).encode("utf-8"))
        except OSError as exc:
            raise WriteFailed(os_error_text(exc)) from None
    if args.json:
        emit_json(fleet_doc(lines))
    else:
        for line in lines:
            revision = (line.library_revision or "")[:12]
            behind = f", {line.behind} behind" if line.behind else ""
            print(f"{line.path}  [{line.state}]" + (f" {line.why}" if line.why else ""))
            if line.tier is not None:
                library = f"; library {line.library}" + (f" @ {revision}" if revision else "")
                print(f"    phase {line.phase} → tier {line.tier}{library}{behind}")
            if line.next_tier:
                ready = {True: "ready", False: "not ready", None: "unknown"}[line.ready]
                print(f"    next tier {line.next_tier}: {ready}")
        attention = sum(needs_attention(line) for line in lines)
        print(f"\n{len(lines)} repositories, {attention} need attention")
        if args.html:
            print(f"wrote {args.html}")
    return EXIT_NOT_IN_SYNC if any(needs_attention(line) for line in lines) else EXIT_OK
