"""`rulesync doctor`."""

from __future__ import annotations

import argparse

from rulesync.errors import RulesyncError


def run(args: argparse.Namespace) -> int:
    raise RulesyncError("rulesync doctor is not available yet")
