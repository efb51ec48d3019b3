"""`rulesync phase [NEW]`: print the phase, or set it (only the `phase:` line is rewritten)."""

from __future__ import annotations

import argparse

from rulesync.commands._common import check_phase, config, project_root, sync_project
from rulesync.commands.apply import print_result
from rulesync.errors import EXIT_OK
from rulesync.marker import parse_marker, read_marker_bytes, with_phase, write_marker
from rulesync.project import choose_library, choose_tier
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    root = project_root()
    cfg = config()
    marker = parse_marker(read_marker_bytes(root), root)  # clear errors, non-UTF-8 included
    text = marker.source.decode("utf-8")
    if args.new is None:
        tier, reasons = choose_tier(marker, choose_library(marker, cfg))
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
        write_marker(root, new_text)
    print(f"phase: {marker.phase} → {args.new}")
    if args.no_apply:
        return EXIT_OK
    result = sync_project(root, cfg, verbose=args.verbose)
    print_result(result)
    return result.exit_code
