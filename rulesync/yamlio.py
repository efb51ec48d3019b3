"""Safe YAML reading for rulesync's own files (marker, config, registry, tiers.yaml).

One loader for all of them: size-limited, UTF-8 only, no aliases (no billion laughs), a
mapping at the top. The line of every key and list item is kept beside the data, keyed by
its path (`("tiers", 1, "name")`), so the user's mapping holds only what the user wrote;
`rulesync.schema` checks the shape. Text in the plain subset `rulesync.yamlsubset` reads
(nearly every real file) never loads PyYAML; anything else goes to PyYAML, errors and all.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rulesync.errors import InvalidInput
from rulesync.fsutil import read_regular
from rulesync.yamlsubset import parse_simple

if TYPE_CHECKING:
    import yaml

MAX_YAML_BYTES = 256 * 1024

KeyPath = tuple[str | int, ...]


class Parsed(NamedTuple):
    """A YAML mapping and, beside it, the line each key or list item stands on."""

    data: dict[str, Any]
    lines: Mapping[KeyPath, int]

    def line(self, *path: str | int) -> int:
        """The line of `path`, or of its nearest parent with one (0 when none has)."""
        return line_at(self.lines, path)


def line_at(lines: Mapping[KeyPath, int], path: KeyPath) -> int:
    """The line of the key path `path` in a table of lines, or of its nearest parent with one
    (0 when none has)."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return 0


def _positions(loader: Any, root: "yaml.Node", data: Any) -> dict[KeyPath, int]:
    """The line of each key and list item under `root`, walking the nodes beside the data
    they were built into (iteratively: nesting depth is the user's to choose)."""
    import yaml  # already loaded by the caller; see parse_with_pyyaml

    lines: dict[KeyPath, int] = {}
    stack: list[tuple[yaml.Node, Any, KeyPath]] = [(root, data, ())]
    while stack:
        node, value, path = stack.pop()
        if isinstance(node, yaml.MappingNode) and isinstance(value, dict):
            # After construction node.value holds the pairs merge keys (`<<`) expanded to.
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = loader.construct_object(key_node)
                if isinstance(key, str | int) and not isinstance(key, bool) and key in value:
                    lines.setdefault((*path, key), key_node.start_mark.line + 1)
                    stack.append((value_node, value[key], (*path, key)))
        elif isinstance(node, yaml.SequenceNode) and isinstance(value, list):
            for index, (item_node, item) in enumerate(zip(node.value, value, strict=False)):
                lines[(*path, index)] = item_node.start_mark.line + 1
                stack.append((item_node, item, (*path, index)))
    return lines


def parse_mapping(text_or_bytes: bytes | str, path: Path, what: str) -> Parsed:
    """Parse YAML text into a mapping with its lines; raise InvalidInput naming `path` on any
    problem."""
    if isinstance(text_or_bytes, bytes):
        try:
            text = text_or_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{path}: {what} is not UTF-8 (byte {exc.start}); save it as UTF-8"
            ) from None
    else:
        text = text_or_bytes
    simple = parse_simple(text)
    if simple is not None:
        return Parsed(*simple)
    return parse_with_pyyaml(text, path, what)


def _indented_with_tab(text: str, line: int) -> bool:
    """True when line `line` (1-based) of `text` holds a tab in its indentation: the usual
    cause of PyYAML's "found character that cannot start any token"."""
    rows = text.split("\n")
    if not 0 < line <= len(rows):
        return False
    row = rows[line - 1]
    return "\t" in row[: len(row) - len(row.lstrip(" \t"))]


def _refuse_duplicate_keys(root: "yaml.Node", path: Path, what: str) -> None:
    """Refuse a mapping that names a key twice: PyYAML keeps the last one silently, so a
    second `phase:` line would quietly win over the first."""
    import yaml  # already loaded by the caller; see parse_with_pyyaml

    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                stack.append(value_node)
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                line = key_node.start_mark.line + 1
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise InvalidInput(
                        f"{path}:{line}: {what} has `{key_node.value}` a second time (first "
                        f"on line {seen[key]}); keep one of them"
                    )
                seen[key] = line
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def parse_with_pyyaml(text: str, path: Path, what: str) -> Parsed:
    """parse_mapping through PyYAML, for any YAML text: its parser, its errors, its lines
    (what parse_mapping falls back to, and what tests hold the subset reader to)."""
    # Imported here, not at the top, for cold start: importing PyYAML costs about 10 ms of
    # every command (its pure-Python reader compiles a large pattern even when libyaml
    # parses), and the files rulesync reads are nearly always in parse_simple's subset.
    import yaml

    try:
        loader_class: Any = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover - PyYAML without libyaml
        loader_class = yaml.SafeLoader
    try:
        for event in yaml.parse(text, Loader=loader_class):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                line = mark.line + 1 if mark is not None else 0
                raise InvalidInput(
                    f"{path}:{line}: {what} uses a YAML alias; write the value out in full"
                )
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _refuse_duplicate_keys(node, path, what)
            data = loader.construct_document(node) if node is not None else None
            lines = _positions(loader, node, data) if node is not None else {}
        except (yaml.YAMLError, InvalidInput):
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
        if mark is not None and _indented_with_tab(text, mark.line + 1):
            raise InvalidInput(
                f"{path}{where}: {what} indents this line with a tab; YAML indents with "
                "spaces only: replace the tab with spaces"
            ) from None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(
            f"{path}{where}: {what} is not valid YAML ({problem}); fix the syntax"
        ) from None
    if node is None:
        return Parsed({}, {})
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise InvalidInput(f"{path}: {what} must be a mapping of `key: value` lines")
    for key in data:
        if not isinstance(key, str):
            line = lines.get((key,), 0) if isinstance(key, int) else 0
            where = f":{line}" if line else ""
            raise InvalidInput(f"{path}{where}: {what} keys must be plain names, not `{key}`")
    return Parsed(data, lines)


def read_settings_file(
    path: Path, what: str, *, limit: int, missing: str = "", follow: bool = True
) -> bytes:
    """Read one of rulesync's own files; every way it can be unreadable is a clear error.
    With follow=False a symlink is refused as it is opened (a check before would race)."""
    try:
        return read_regular(path, limit=limit, follow=follow, what=what)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: {what} not found{missing}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: {what} is a folder; replace it with a file") from None
    except PermissionError:
        raise InvalidInput(f"{path}: {what} is not readable; check its permissions") from None


def load_mapping(
    path: Path, what: str, *, limit: int = MAX_YAML_BYTES, follow: bool = True
) -> Parsed:
    """Read and parse a YAML mapping file (see parse_mapping)."""
    return parse_mapping(read_settings_file(path, what, limit=limit, follow=follow), path, what)
