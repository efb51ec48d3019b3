"""The phase marker `.rulesync.yaml`: finding the project root, loading it, setting the phase."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import atomic_write
from rulesync.targets import check_names
from rulesync.yamlio import check_keys, line_of, parse_mapping, read_settings_file

MARKER = ".rulesync.yaml"
MARKER_KEYS = ("phase", "library", "targets", "exclude", "commit", "metrics")
MAX_MARKER_BYTES = 64 * 1024
_PHASE_LINE = re.compile(r"^(phase[ \t]*:[ \t]*)([^#\r\n]*?)([ \t]*(?:#.*)?)$", re.MULTILINE)


@dataclass(frozen=True)
class Marker:
    """A project's marker, validated for shape (the library checks the names)."""

    root: Path
    phase: str
    library: str | None = None
    targets: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    commit: bool = True
    metrics: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    source: bytes = b""

    @property
    def path(self) -> Path:
        return self.root / MARKER


def find_root(start: Path) -> Path:
    """Walk up from `start` to the first folder holding `.rulesync.yaml` (like git)."""
    current = Path(os.path.abspath(start))
    for folder in (current, *current.parents):
        if os.path.lexists(folder / MARKER):
            return folder
    raise InvalidInput(
        f"{current}: no {MARKER} here or in any parent folder; run `rulesync init` to create one"
    )


def parse_marker(data: bytes, root: Path) -> Marker:
    """Parse and validate a marker's bytes."""
    path = root / MARKER
    raw = parse_mapping(data, path, "marker")
    check_keys(raw, MARKER_KEYS, path, "marker")
    lines: dict[str, int] = raw.get("__lines__", {})
    phase = raw.get("phase")
    if phase is None:
        raise InvalidInput(
            f"{path}: `phase:` is required (a tier name or `auto`); add e.g. `phase: basic`"
        )
    if not isinstance(phase, str) or not phase.strip():
        raise InvalidInput(f"{path}:{line_of(raw, 'phase')}: phase must be a tier name or `auto`")
    library = raw.get("library")
    if library is not None and (not isinstance(library, str) or not library.strip()):
        raise InvalidInput(
            f"{path}:{line_of(raw, 'library')}: library must be `default` or a folder path"
        )
    targets = raw.get("targets")
    if targets is not None:
        targets = check_names(targets, f"{path}:{line_of(raw, 'targets')}")
    exclude = raw.get("exclude") or []
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, list) or not all(isinstance(x, str) and x for x in exclude):
        raise InvalidInput(
            f"{path}:{line_of(raw, 'exclude')}: exclude must be a list of rule names "
            "(a rule's path in its tier without `.mdc`: `testing`, `frontend/react`)"
        )
    commit = raw.get("commit", True)
    if not isinstance(commit, bool):
        raise InvalidInput(f"{path}:{line_of(raw, 'commit')}: commit must be true or false")
    metrics = raw.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise InvalidInput(
            f"{path}:{line_of(raw, 'metrics')}: metrics must be a mapping of name: value"
        )
    for key, value in metrics.items():
        if not isinstance(key, str) or isinstance(value, dict | list) or value is None:
            raise InvalidInput(
                f"{path}:{line_of(raw, 'metrics')}: metric `{key}` must be a number or true/false"
            )
    return Marker(
        root=root,
        phase=phase.strip(),
        library=library.strip() if library else None,
        targets=targets,
        exclude=tuple(x.removesuffix(".mdc") for x in exclude),
        commit=commit,
        metrics=dict(metrics),
        lines=lines,
        source=data,
    )


def read_marker_bytes(root: Path) -> bytes:
    """The marker's bytes; refuses symlinks, folders, FIFOs and oversized files with a clear
    error."""
    if os.path.islink(root / MARKER):
        # Read through, it would copy the file it points to into rulesync's commit.
        raise UnsafePath(
            f"{root / MARKER}: the marker is a symlink; rulesync does not read through it. "
            "Replace it with a regular file"
        )
    return read_settings_file(
        root / MARKER, "marker", limit=MAX_MARKER_BYTES, missing="; run `rulesync init`"
    )


def load_marker(root: Path) -> Marker:
    """Read and validate `.rulesync.yaml` in `root`."""
    return parse_marker(read_marker_bytes(root), root)


def with_phase(text: str, phase: str) -> str:
    """Return marker text with only the `phase:` value replaced (comments and layout kept)."""
    if _PHASE_LINE.search(text):
        return _PHASE_LINE.sub(lambda m: f"{m.group(1)}{phase}{m.group(3)}", text, count=1)
    return f"phase: {phase}\n{text}"


def write_marker(root: Path, text: str) -> None:
    """Write marker text atomically."""
    atomic_write(root / MARKER, text.encode("utf-8"))


def default_marker_text(phase: str) -> str:
    """The marker `rulesync init` writes."""
    return (
        "# rulesync: this project's maturity phase. `rulesync tiers` lists the tiers;\n"
        "# `auto` picks the highest tier whose criteria the metrics below meet.\n"
        f"phase: {phase}\n"
        "# library: default      # or a folder inside this project\n"
        "# targets: [cursor]     # also: agents, claude, copilot, devin, windsurf\n"
        "# exclude: []           # rule names this project opts out of\n"
        "# commit: true          # record each change as a git commit\n"
        "# metrics: {}           # figures for `rulesync readiness` and `phase: auto`\n"
    )
