"""`rulesync tiers [--library L]`: the tiers in order with their resolved rule lists."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from rulesync.commands._common import config
from rulesync.errors import InvalidInput
from rulesync.library import Library, bundled_root, load_library
from rulesync.marker import Marker, find_root, load_marker
from rulesync.mdc import read_rule
from rulesync.project import choose_library
from rulesync.report import emit_json


def _library(spec: str | None) -> tuple[Library, tuple[str, ...]]:
    """The library to list, and the targets its rules are written for (the project's, or
    the user's default outside a project)."""
    cfg = config()
    try:
        root: Path | None = find_root(Path.cwd())
    except InvalidInput:
        root = None
    if spec:
        marker = None
        if root is not None:
            # The library is named on the command line: a broken marker only loses its targets.
            with contextlib.suppress(InvalidInput):
                marker = load_marker(root)
        targets = (marker.targets if marker else None) or cfg.targets
        if spec == "default":
            return load_library(bundled_root(), "default"), targets
        return load_library(Path(spec), spec), targets
    if root is None:
        # Outside a project: the user's default library, chosen the way a project's would be
        # (a folder, or a repository served from git).
        return choose_library(Marker(root=Path.cwd(), phase="auto"), cfg), cfg.targets
    marker = load_marker(root)
    return choose_library(marker, cfg), marker.targets or cfg.targets


def run(args: argparse.Namespace) -> int:
    library, targets = _library(args.library)
    doc: list[dict[str, Any]] = []
    for tier in library.tiers:
        rules = []
        for name, rule in library.resolve(tier.name).items():
            info = read_rule(rule.data)
            rules.append(
                {
                    "name": name,
                    "from": rule.tier,
                    "type": info.rule_type.value,
                    "description": info.description,
                }
            )
        doc.append(
            {
                "name": tier.name,
                "extends": tier.extends,
                "description": tier.description,
                "rules": rules,
            }
        )
    if args.json:
        emit_json(
            {
                "library": library.label,
                "root": str(library.root),
                "targets": list(targets),
                "tiers": doc,
            }
        )
        return 0
    print(f"library: {library.label} ({library.root})")
    print(f"targets: {', '.join(targets)}")
    for entry in doc:
        parent = f" (extends {entry['extends']})" if entry["extends"] else ""
        print(f"\n{entry['name']}{parent}: {entry['description']}")
        for rule in entry["rules"]:
            origin = "" if rule["from"] == entry["name"] else f"  [from {rule['from']}]"
            print(f"  {rule['name']:<34} {rule['type']:<16}{origin}")
    return 0
