"""Linting a library, a folder of `.mdc` files or one file. One bad file never hides another."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rulesync.errors import RulesyncError
from rulesync.fsutil import read_regular
from rulesync.library import MAX_RULE_BYTES, TIERS_FILE, load_library
from rulesync.mdc import Finding, RuleInfo, RuleType, read_rule


@dataclass(frozen=True)
class FileReport:
    """The findings for one file (rule_type is None for non-rule files such as tiers.yaml)."""

    path: Path
    findings: tuple[Finding, ...]
    rule_type: RuleType | None = None


def lint_file(path: Path) -> FileReport:
    """Read and lint one `.mdc` file; unreadable files become an error finding."""
    try:
        data = read_regular(path, limit=MAX_RULE_BYTES, follow=False, what="rule file")
    except RulesyncError as exc:
        return FileReport(path, (Finding("error", str(exc).split(": ", 1)[-1]),))
    except OSError as exc:
        return FileReport(path, (Finding("error", f"unreadable: {exc.strerror or exc}"),))
    info: RuleInfo = read_rule(data)
    return FileReport(path, info.findings, info.rule_type if not info.errors else None)


def _mdc_files(folder: Path) -> list[Path]:
    try:
        return sorted(folder / n for n in os.listdir(folder) if n.endswith(".mdc"))
    except OSError:
        return []


def lint_path(path: Path) -> list[FileReport]:
    """Lint a library (tiers.yaml and every tier's rules), a folder of `.mdc` files or a file."""
    if path.is_file() or not path.exists():
        return [lint_file(path)]
    if not (path / TIERS_FILE).exists():
        return [lint_file(p) for p in _mdc_files(path)]
    reports: list[FileReport] = []
    folders: list[Path]
    try:
        library = load_library(path, str(path))
        reports.append(FileReport(path / TIERS_FILE, ()))
        folders = [library.tier_dir(t.name) for t in library.tiers]
    except RulesyncError as exc:
        reports.append(FileReport(path / TIERS_FILE, (Finding("error", str(exc)),)))
        folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in folders:
        reports.extend(lint_file(p) for p in _mdc_files(folder))
    return reports
