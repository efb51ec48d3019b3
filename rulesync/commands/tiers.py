"""`rulesync tiers [--library L]`: the tiers in order with their resolved rule lists."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rulesync.commands._common import config
from rulesync.config import Config
from rulesync.errors import EXIT_OK, InvalidInput
from rulesync.library import Library, bundled_root, load_library
from rulesync.marker import Marker, find_root, load_marker
from rulesync.mdc import read_rule
from rulesync.project import choose_library, choose_tier, enabled_targets
from rulesync.report import emit_json


def _library(spec: str | None, cfg: Config) -> tuple[Library, str | None, Marker | None]:
    """The library to list, the current project's tier when there is one, and its marker
    when it was read."""
    if spec == "default":
        return load_library(bundled_root(), "default", limits=cfg.limits), None, None
    if spec:
        from rulesync.spec import is_url

        if is_url(spec):
            # Typed by the user, so trusted as the config's own library is: fetched, and
            # listed at the revision the followed ref points to.
            outside = Marker(root=Path.cwd(), phase="auto")
            return choose_library(outside, cfg._replace(library=spec)), None, None
        path = Path(os.path.abspath(os.path.expanduser(spec)))
        if not os.path.lexists(path):
            raise InvalidInput(f"--library {spec}: {path} does not exist")
        return load_library(path, spec, limits=cfg.limits), None, None
    try:
        root = find_root(Path.cwd())
    except InvalidInput:
        # Outside a project: the user's default library, chosen the way a project's would be
        # (a folder, or a repository served from git).
        return choose_library(Marker(root=Path.cwd(), phase="auto"), cfg), None, None
    marker = load_marker(root)
    library = choose_library(marker, cfg)
    try:
        current: str | None = choose_tier(marker, library)[0]
    except InvalidInput:
        current = None  # a phase or metric to fix: the list of tiers is what helps fix it
    return library, current, marker


def _targets(cfg: Config, marker: Marker | None) -> tuple[str, ...]:
    """The targets the rules are written for: the current project's, or the user's default
    (outside a project, or when its marker does not load)."""
    if marker is None:
        try:
            marker = load_marker(find_root(Path.cwd()))
        except InvalidInput:
            return cfg.targets
    return enabled_targets(marker, cfg)


def run(args: argparse.Namespace) -> int:
    cfg = config()
    library, current, marker = _library(args.library, cfg)
    targets = _targets(cfg, marker)
    doc: list[dict[str, Any]] = []
    resolved = library.resolve_all()
    for tier in library.tiers:
        rules = []
        for name, rule in resolved[tier.name].items():
            info = read_rule(rule.data)
            rules.append(
                {
                    "name": name,
                    "from": rule.tier,
                    "type": info.rule_type.value,
                    "description": info.description,
                    "globs": list(info.globs),
                }
            )
        doc.append(
            {
                "name": tier.name,
                "extends": tier.extends,
                "description": tier.description,
                "current": tier.name == current,
                "rules": rules,
            }
        )
    if args.json:
        emit_json(
            {
                "library": library.label,
                "root": str(library.root.absolute()),
                "current": current,
                "targets": list(targets),
                "tiers": doc,
            }
        )
        return EXIT_OK
    print(f"library: {library.label} ({library.root.absolute()})")
    print(f"targets: {', '.join(targets)}")
    for entry in doc:
        parent = f" (extends {entry['extends']})" if entry["extends"] else ""
        here = "  ← this project's tier" if entry["current"] else ""
        print(f"\n{entry['name']}{parent}: {entry['description']}{here}")
        for rule in entry["rules"]:
            origin = "" if rule["from"] == entry["name"] else f"  [from {rule['from']}]"
            print(f"  {rule['name']:<34} {rule['type']:<16}{origin}".rstrip())
            details = [rule["description"]] if rule["description"] else []
            if rule["globs"]:
                details.append("globs: " + ", ".join(rule["globs"]))
            if details:
                print(f"      {'; '.join(details)}")
    return EXIT_OK
