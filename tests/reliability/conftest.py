"""Fixtures of the reliability suite. The figures every scenario records are written to the
file named by RULESYNC_RELIABILITY_FIGURES at the end of the session (report.py sets it)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from tests.reliability.harness import FIGURES_ENV, TrialLog


@dataclass
class Figure:
    """One row of the table in docs/reliability.md."""

    section: str
    scenario: str
    trials: int
    failures: int
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)


class Figures:
    """The rows recorded during the session, in order."""

    def __init__(self) -> None:
        self.rows: list[Figure] = []

    def add(
        self,
        section: str,
        scenario: str,
        *,
        trials: int,
        failures: int,
        detail: str = "",
        counts: dict[str, int] | None = None,
    ) -> None:
        self.rows.append(Figure(section, scenario, trials, failures, detail, dict(counts or {})))

    def finish(self, log: TrialLog, detail: str = "") -> None:
        """Record a trial log's figures, then fail the test if any trial failed."""
        self.add(
            log.section,
            log.scenario,
            trials=log.trials,
            failures=len(log.failures),
            detail=detail,
            counts=log.counts,
        )
        assert not log.failures, (
            f"{len(log.failures)} of {log.trials} trials failed "
            f"(replay one with RULESYNC_RELIABILITY_SEEDS=<seed>):\n" + "\n".join(log.failures)
        )


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    """The session's figures, written out as JSON when RULESYNC_RELIABILITY_FIGURES is set."""
    target = os.environ.get(FIGURES_ENV)
    yield _FIGURES
    if target:
        Path(target).write_text(
            json.dumps([asdict(row) for row in _FIGURES.rows], indent=2) + "\n", encoding="utf-8"
        )
