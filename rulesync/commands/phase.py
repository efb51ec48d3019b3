"""`rulesync phase [NEW]`: print the phase, or set it (only the `phase:` line is rewritten)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rulesync import manifest as manifest_mod
from rulesync.commands._common import check_phase, config, project_root, sync_project
from rulesync.commands.apply import print_result
from rulesync.errors import EXIT_OK, Deferred
from rulesync.git import busy_reason, find_git
from rulesync.marker import parse_marker, read_marker_bytes, with_phase, write_marker
from rulesync.project import choose, choose_library, choose_tier
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    root = project_root()
    cfg = config()
    marker = parse_marker(read_marker_bytes(root), root)  # clear errors, non-UTF-8 included
    text = marker.source.decode("utf-8")
    if args.new is None:
        current = manifest_mod.load(root).tier or None
        choice = choose(marker, choose_library(marker, cfg), cfg, current)
        tier, reasons = choice.tier, choice.reasons
        if args.json:
            emit_json({"phase": marker.phase, "tier": tier, "reasons": list(reasons)})
        elif marker.phase == "auto":
            print(f"auto → {tier}")
        else:
            print(marker.phase)
        return EXIT_OK
    # The value typed here is checked as typed, before the marker is touched.
    library = choose_library(marker, cfg)
    check_phase(args.new, library, f"rulesync phase {args.new}")
    new_text = with_phase(text, args.new)
    choose_tier(parse_marker(new_text.encode("utf-8"), root), library)  # metrics must hold too
    if new_text != text:
        _refuse_while_busy(root, args.new)
        write_marker(root, new_text)
    print(f"phase: {marker.phase} → {args.new}")
    if args.no_apply:
        return EXIT_OK
    result = sync_project(root, cfg, verbose=args.verbose)
    print_result(result)
    return result.exit_code


def _refuse_while_busy(root: Path, phase: str) -> None:
    """Refuse to edit the marker while a merge, rebase, cherry-pick… is in progress: the sync
    would be deferred, and aborting that operation resets the work tree, silently dropping
    the edit."""
    git = find_git(root)
    reason = busy_reason(git) if git is not None else None
    if reason is None:
        return
    lost = " (an edit made now would be lost if it is aborted)" if "abort" in reason else ""
    raise Deferred(
        f"rulesync phase {phase}: {reason}; the phase was not changed: set it once that is "
        f"done{lost}"
    )
