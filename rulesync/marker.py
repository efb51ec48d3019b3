"""The phase marker `.rulesync.yaml`: finding the project root, loading it, setting the phase."""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from rulesync.errors import InvalidInput, UnsafePath
from rulesync.fsutil import atomic_write
from rulesync.schema import (
    AnyOf,
    Choice,
    Field,
    Flag,
    ListOf,
    MapOf,
    Number,
    Schema,
    Text,
    validate,
    where,
)
from rulesync.targets import TARGETS
from rulesync.yamlio import KeyPath, line_at, parse_mapping, read_settings_file

MARKER = ".rulesync.yaml"
MAX_MARKER_BYTES = 64 * 1024
# The start of the `phase:` line, through the blanks after its colon: matched one way only (the
# value and its comment are split in plain code), so a long line never backtracks.
_PHASE_KEY = re.compile(r"^phase[ \t]*:[ \t]*", re.MULTILINE)
_LIBRARY_KEY = re.compile(r"^library[ \t]*:[ \t]*", re.MULTILINE)

# The marker's keys, in the order messages list them. A key added here is checked, has its
# line tracked and reaches `Marker` under the same name (add the attribute there too).
# Where the rules are written: one or more target names (a lone name is a list of one).
TARGETS_KIND = ListOf(
    Choice(tuple(sorted(TARGETS)), noun="target"),
    "a list of target names",
    lone=True,
    non_empty=True,
    unique=True,
)

MARKER_SCHEMA = Schema(
    (
        Field(
            "phase",
            Text("a tier name or `auto`"),
            required=True,
            example="phase: basic",
        ),
        Field("library", Text("`default`, a folder path or a repository URL")),
        Field("targets", TARGETS_KIND),
        Field("exclude", ListOf(Text("a rule name"), "a list of rule names", lone=True), ()),
        Field("commit", Flag(), True),
        Field(
            "metrics",
            # Text passes here: readiness knows whether its criterion wants a number or
            # true/false, and says which.
            MapOf(
                AnyOf((Number(), Flag(), Text()), "a number or true/false"),
                noun="metric",
            ),
            {},
        ),
        # The project's Prometheus, for the `prometheus` metric sources (http or https).
        Field("prometheus", Text("an http:// or https:// URL")),
    )
)


class Marker(NamedTuple):
    """A project's marker, validated for shape (the library checks the names)."""

    root: Path
    phase: str
    library: str | None = None
    targets: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    commit: bool = True
    metrics: Mapping[str, Any] = MappingProxyType({})
    prometheus: str | None = None
    # The line of each key and list item, by key path: `("exclude", 0)`.
    lines: Mapping[KeyPath, int] = MappingProxyType({})
    source: bytes = b""

    @property
    def path(self) -> Path:
        return self.root / MARKER

    def line(self, *key: str | int) -> int:
        """The line `key` (a key path) stands on in the marker, 0 when it is not there."""
        return line_at(self.lines, key)


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
    parsed = parse_mapping(data, path, "marker")
    values = validate(MARKER_SCHEMA, parsed, path)
    values["exclude"] = tuple(x.removesuffix(".mdc") for x in values["exclude"])
    if values["prometheus"] is not None:
        _check_prometheus(values["prometheus"], path, parsed.line("prometheus"))
    return Marker(root=root, **values, lines=parsed.lines, source=data)


def _check_prometheus(url: str, path: Path, line: int) -> None:
    from rulesync.prometheus import public_url, url_problem

    problem = url_problem(url)
    if problem is not None:
        raise InvalidInput(
            f"{where(path, line)}: prometheus {public_url(url)!r} is not usable: {problem}; "
            "write e.g. `prometheus: http://127.0.0.1:9090`"
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
        root / MARKER,
        "marker",
        limit=MAX_MARKER_BYTES,
        missing="; run `rulesync init`",
        follow=False,
    )


def load_marker(root: Path) -> Marker:
    """Read and validate `.rulesync.yaml` in `root`."""
    return parse_marker(read_marker_bytes(root), root)


def _with_value(text: str, key: re.Pattern[str], value: str) -> str | None:
    """`text` with the value of the line `key` starts replaced by `value` (its comment, blanks
    and line ending, CRLF too, kept); None when no line starts with `key`."""
    match = key.search(text)
    if match is None:
        return None
    end = text.find("\n", match.end())
    end = len(text) if end < 0 else end
    rest = text[match.end() : end]
    if rest.endswith("\r"):
        end -= 1
        rest = rest[:-1]
    comment = rest.find("#")
    old = (rest if comment < 0 else rest[:comment]).rstrip(" \t")
    return text[: match.end()] + value + rest[len(old) :] + text[match.end() + len(rest) :]


def with_phase(text: str, phase: str) -> str:
    """Return marker text with only the `phase:` value replaced (comments, blanks and line
    endings, CRLF too, kept)."""
    replaced = _with_value(text, _PHASE_KEY, phase)
    return f"phase: {phase}\n{text}" if replaced is None else replaced


def with_library(text: str, spec: str) -> str:
    """Return marker text whose `library:` value is `spec` (quoted), every other line kept;
    the line is added after the `phase:` line when there is none."""
    value = "'" + spec.replace("'", "''") + "'"
    replaced = _with_value(text, _LIBRARY_KEY, value)
    if replaced is not None:
        return replaced
    match = _PHASE_KEY.search(text)
    if match is None:
        return f"library: {value}\n{text}"
    end = text.find("\n", match.end())
    end = len(text) if end < 0 else end
    if text[:end].endswith("\r"):
        end -= 1
    return f"{text[:end]}\nlibrary: {value}{text[end:]}"


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
