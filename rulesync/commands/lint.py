"""`rulesync lint [PATH]`: validate a library, a folder of `.mdc` files or one file."""

from __future__ import annotations

import argparse
from pathlib import Path

from rulesync.commands._common import config
from rulesync.errors import EXIT_NOT_IN_SYNC, EXIT_OK
from rulesync.library import bundled_root
from rulesync.lint import lint
from rulesync.names import printable
from rulesync.report import emit_json
from rulesync.targets import get


def shown(text: object) -> str:
    """Text fit to print, a file name's undecodable bytes as apply shows them."""
    return printable(str(text))


def run(args: argparse.Namespace) -> int:
    target = Path(args.path) if args.path else bundled_root()
    if args.targets:
        targets = tuple(name.strip() for name in args.targets.split(",") if name.strip())
        for name in targets:
            get(name)  # an unknown name: exit 2, naming the valid ones
    else:
        targets = config().targets
    linted = lint(target, targets)
    reports = linted.reports
    errors = sum(1 for r in reports for f in r.findings if f.level == "error")
    warnings = sum(1 for r in reports for f in r.findings if f.level == "warning")
    rules = sum(1 for r in reports if r.path.name != "tiers.yaml")
    if args.json:
        emit_json(
            {
                "path": shown(linted.path),
                "kind": linted.kind,
                "files": [
                    {
                        "path": shown(r.path),
                        "type": r.rule_type.value if r.rule_type else None,
                        "findings": [
                            {"level": f.level, "line": f.line, "message": shown(f.message)}
                            for f in r.findings
                        ],
                    }
                    for r in reports
                ],
                "errors": errors,
                "warnings": warnings,
            }
        )
    else:
        for report in reports:
            for finding in report.findings:
                line = f":{finding.line}" if finding.line else ""
                print(f"{shown(report.path)}{line}: {finding.level}: {shown(finding.message)}")
        what = f"{linted.kind} {shown(linted.path)}"
        if linted.kind == "library":
            what += f" (tiers.yaml and {rules} rule file(s))"
        elif linted.kind == "folder":
            what += f" ({rules} rule file(s))"
        print(f"linted {what}: {errors} error(s), {warnings} warning(s)")
    return EXIT_NOT_IN_SYNC if errors or (args.strict and warnings) else EXIT_OK
