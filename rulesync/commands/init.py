"""`rulesync init [PATH] [--phase P]`: write a marker if absent, register the project, apply."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rulesync.commands._common import config
from rulesync.commands.apply import print_result
from rulesync.errors import InvalidInput
from rulesync.marker import MARKER, default_marker_text, parse_marker, write_marker
from rulesync.project import choose_library, choose_tier
from rulesync.registry import add_project
from rulesync.sync import sync


def run(args: argparse.Namespace) -> int:
    root = Path(os.path.abspath(args.path))
    if not root.is_dir():
        raise InvalidInput(f"{root}: not a folder; create it first")
    cfg = config()
    marker_path = root / MARKER
    if os.path.lexists(marker_path):
        print(f"{marker_path}: exists, kept as it is")
        if args.phase:
            print("  (--phase ignored: use `rulesync phase NEW` to change it)")
    else:
        library = choose_library(parse_marker(b"phase: auto\n", root), cfg)
        phase = args.phase or library.tiers[0].name
        text = default_marker_text(phase)
        choose_tier(parse_marker(text.encode("utf-8"), root), library)  # refuse unknown phases
        write_marker(root, text)
        print(f"wrote {marker_path} (phase: {phase})")
    if not args.no_register and add_project(root):
        print("registered with the rulesync service")
    result = sync(root, cfg)
    print_result(result)
    return result.exit_code
