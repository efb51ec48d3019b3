"""Safe YAML reading for rulesync's own files (marker, config, registry, tiers.yaml).

One loader for all of them: size-limited, UTF-8 only, no aliases (no billion laughs),
a mapping at the top, and unknown keys reported with their line and the valid keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from rulesync.errors import InvalidInput
from rulesync.fsutil import read_regular

MAX_YAML_BYTES = 256 * 1024

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader


def parse_mapping(text_or_bytes: bytes | str, path: Path, what: str) -> dict[str, Any]:
    """Parse YAML text into a mapping; raise InvalidInput naming `path` on any problem."""
    if isinstance(text_or_bytes, bytes):
        try:
            text = text_or_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{path}: {what} is not UTF-8 (byte {exc.start}); save it as UTF-8"
            ) from None
    else:
        text = text_or_bytes
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                line = mark.line + 1 if mark is not None else 0
                raise InvalidInput(
                    f"{path}:{line}: {what} uses a YAML alias; write the value out in full"
                )
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError:
            raise
        except Exception as exc:
            # PyYAML's constructors reject tagged values such as `!!int abc`, `!!bool maybe`
            # or `!!timestamp 2001-02-30` with plain ValueError, KeyError, IndexError…
            detail = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
            raise InvalidInput(
                f"{path}: {what} has a value YAML cannot convert ({detail}); write it plainly"
            ) from None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(
            f"{path}{where}: {what} is not valid YAML ({problem}); fix the syntax"
        ) from None
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise InvalidInput(f"{path}: {what} must be a mapping of `key: value` lines")
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise InvalidInput(f"{path}: {what} keys must be plain names")
    data["__lines__"] = {
        key.value: key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }
    return data


def read_settings_file(path: Path, what: str, *, limit: int, missing: str = "") -> bytes:
    """Read one of rulesync's own files; every way it can be unreadable is a clear error."""
    try:
        return read_regular(path, limit=limit, what=what)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: {what} not found{missing}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: {what} is a folder; replace it with a file") from None
    except PermissionError:
        raise InvalidInput(f"{path}: {what} is not readable; check its permissions") from None


def load_mapping(path: Path, what: str, *, limit: int = MAX_YAML_BYTES) -> dict[str, Any]:
    """Read and parse a YAML mapping file (see parse_mapping)."""
    return parse_mapping(read_settings_file(path, what, limit=limit), path, what)


def check_keys(data: dict[str, Any], allowed: Iterable[str], path: Path, what: str) -> None:
    """Raise InvalidInput for the first unknown key, naming its line and the valid keys."""
    allowed = tuple(allowed)
    lines: dict[str, int] = data.get("__lines__", {})
    for key in data:
        if key != "__lines__" and key not in allowed:
            raise InvalidInput(
                f"{path}:{lines.get(key, 0)}: unknown key `{key}` in {what}; "
                f"valid keys: {', '.join(allowed)}"
            )


def line_of(data: dict[str, Any], key: str) -> int:
    """The line a top-level key stands on (0 when unknown)."""
    lines: dict[str, int] = data.get("__lines__", {})
    return lines.get(key, 0)
