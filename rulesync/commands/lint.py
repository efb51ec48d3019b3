"""`rulesync lint [PATH]`: validate a library, a folder of `.mdc` files or one file."""

from __future__ import annotations

import argparse
from pathlib import Path

from rulesync.library import bundled_root
from rulesync.lint import lint_path
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    target = Path(args.path) if args.path else bundled_root()
    reports = lint_path(target)
    errors = sum(1 for r in reports for f in r.findings if f.level == "error")
    warnings = sum(1 for r in reports for f in r.findings if f.level == "warning")
    if args.json:
        emit_json(
            {
                "path": str(target),
                "files": [
                    {
                        "path": str(r.path),
                        "type": r.rule_type.value if r.rule_type else None,
                        "findings": [
                            {"level": f.level, "line": f.line, "message": f.message}
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
                print(f"{report.path}{line}: {finding.level}: {finding.message}")
        print(f"{len(reports)} file(s): {errors} error(s), {warnings} warning(s)")
    return 1 if errors or (args.strict and warnings) else 0
