"""`rulesync doctor`: one line per check (OK / WARN / FAIL) with the fix; exit 1 on any FAIL."""

from __future__ import annotations

import argparse

from rulesync.doctor import FAIL, run_checks, summary
from rulesync.errors import EXIT_DRIFT, EXIT_OK
from rulesync.report import emit_json


def run(args: argparse.Namespace) -> int:
    """Run every check and print the report."""
    checks = run_checks()
    counts = summary(checks)
    if args.json:
        emit_json({"checks": [c.doc() for c in checks], "summary": counts})
    else:
        for check in checks:
            print(check.line())
        print(f"\n{counts['WARN']} warning(s), {counts['FAIL']} failure(s)")
    return EXIT_DRIFT if counts[FAIL] else EXIT_OK
