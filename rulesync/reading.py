"""The reading model: what each assistant loads, from the files a project holds (whoever wrote
them), for the file being worked on. Pure functions over a snapshot (path → bytes), and one
reader that takes that snapshot from disk (`read_project`).

Each target says how its assistant reads (`Target.reads`, the documentation beside it);
assistants that read only AGENTS.md are listed here (`AGENTS_ONLY`). `simulate` walks one
reader's sources and returns what the assistant loads: each file or rule body it loads on
every request (`Load.costs`, the budget) and, for each rule of the tier, how it reaches the
assistant (`Load.items`). `verdicts` folds the items into one verdict per rule; `findings`
says, for a whole tier, which rules an assistant loads twice, cannot reach, or loses to a
size cut; `loaded_elsewhere` is how targets are planned together (`targets.render_all`).

A rule of the tier is recognised in a file by `origins` (a whole file rulesync wrote for
it) or, inside rulesync's block, by the lines rulesync writes there (`<!-- rule: x -->`
before an Always rule's text, a list item starting with the rule's name in code).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from rulesync.errors import InvalidInput
from rulesync.explain import Cost, cost
from rulesync.globs import Dialect, matches
from rulesync.mdc import RuleType
from rulesync.targets import Target, get, render, render_all
from rulesync.targets.base import (
    Fact,
    How,
    Reader,
    Rendered,
    Source,
    SourceRule,
    rule_info,
    split_front_matter,
)
from rulesync.targets.blocks import find_block

Files = Mapping[str, bytes]

# Assistants with no target of their own: each reads AGENTS.md (and some a file of its own
# rulesync does not write).
_AGENTS = Source("agents", "AGENTS.md", nested=True)
AGENTS_ONLY: tuple[Reader, ...] = (
    Reader(
        "Zed",
        (
            Source(
                "first-of",
                names=(
                    ".rules",
                    ".cursorrules",
                    ".windsurfrules",
                    ".clinerules",
                    ".github/copilot-instructions.md",
                    "AGENT.md",
                    "AGENTS.md",
                    "CLAUDE.md",
                    "GEMINI.md",
                ),
            ),
        ),
        "gitignore",
        (
            Fact(
                "only the first of .rules, .cursorrules, .windsurfrules, .clinerules, "
                ".github/copilot-instructions.md, AGENT.md, AGENTS.md, CLAUDE.md, GEMINI.md "
                "at the worktree's top is read",
                "https://zed.dev/docs/ai/rules.html",
            ),
        ),
    ),
    Reader(
        "Junie",
        (_AGENTS,),
        facts=(
            Fact(
                "reads AGENTS.md (besides .junie/guidelines.md)",
                "https://www.developersdigest.tech/reference/instruction-files",
                assumed=True,
            ),
        ),
    ),
    Reader(
        "Jules",
        (Source("agents", "AGENTS.md"),),
        facts=(
            Fact(
                "reads the root AGENTS.md",
                "https://www.developersdigest.tech/reference/instruction-files",
                assumed=True,
            ),
        ),
    ),
    Reader(
        "Antigravity",
        (Source("agents", "AGENTS.md"),),
        facts=(
            Fact(
                "reads the root AGENTS.md",
                "https://www.developersdigest.tech/reference/instruction-files",
                assumed=True,
            ),
        ),
    ),
)

# Which files of a project can be instructions: read from disk by `read_project`.
_ROOT_NAMES = (
    "AGENTS.md",
    "AGENT.md",
    "AGENTS.override.md",
    "CLAUDE.md",
    "CLAUDE.local.md",
    "GEMINI.md",
    ".rules",
    ".cursorrules",
    ".windsurfrules",
    ".clinerules",
    ".claude/CLAUDE.md",
    ".github/copilot-instructions.md",
)
_FOLDERS = (
    ".cursor/rules",
    ".claude/rules",
    ".claude/skills",
    ".github/instructions",
    ".devin/rules",
    ".windsurf/rules",
    ".kiro/steering",
    ".clinerules",
    ".agents/rules",
)
# What reading a project may take, whatever the repository holds: per file, files, bytes in
# all, and folder depth under an instruction folder.
MAX_FILE = 1 << 20
MAX_FILES = 4000
MAX_TOTAL = 32 << 20
MAX_DEPTH = 12
_IMPORT = re.compile(r"(?<![\w`])@((?:\./|\.\./|~/)?[\w./-]+)")
_RULE_MARK = re.compile(r"^<!-- rule: (.+?) -->$")
_ITEM = re.compile(r"^- (`+) ?(.+?) ?\1")


class Item(NamedTuple):
    """How one rule of the tier reaches the assistant from one file."""

    rule: str
    how: How
    source: str
    glob: str = ""


class Load(NamedTuple):
    """What an assistant loads for one file: the budget rows and the tier's rules' items."""

    assistant: str
    costs: list[Cost]
    items: list[Item]


def readers(targets: Iterable[Target]) -> list[Reader]:
    """The reading models of `targets` (in order), then every AGENTS.md-only assistant."""
    found = [t.reads for t in targets if t.reads is not None]
    return [*found, *AGENTS_ONLY]


# Reading the project's instruction files from disk, never through a symlink.


def _open_under(root_fd: int, parts: Sequence[str], directory: bool) -> int | None:
    fd = os.dup(root_fd)
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            if directory or not last:
                flags |= os.O_DIRECTORY
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except OSError:
                return None
            os.close(fd)
            fd = nxt
        result, fd = fd, -1
        return result
    finally:
        if fd >= 0:
            os.close(fd)


def _read_fd(fd: int, left: int = MAX_FILE) -> bytes | None:
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > min(MAX_FILE, left):
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(MAX_FILE)
    finally:
        os.close(fd)


def read_project(
    root: Path, extra: Iterable[str] = (), skip: Collection[str] = ()
) -> dict[str, bytes]:
    """Every instruction file of the project an assistant may read (rulesync's and the
    user's): the known root files, the known folders at any depth, the AGENTS.md and
    CLAUDE.md of the folders on the way to each of `extra` paths; no file at a `skip` path
    (rulesync's own files, which `own_files` leaves out anyway). Symlinks are skipped; at
    most MAX_FILES files, MAX_TOTAL bytes, MAX_DEPTH folders deep are read."""
    found = _Read()
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return dict(found)
    try:
        names = set(_ROOT_NAMES)
        for path in extra:
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                names |= {f"{folder}/AGENTS.md", f"{folder}/CLAUDE.md"}
        for name in sorted(names - set(skip)):
            fd = _open_under(root_fd, name.split("/"), directory=False)
            data = _read_fd(fd, _left(found)) if fd is not None else None
            if data is not None:
                found.add(name, data)
        for folder in _FOLDERS:
            _walk(root_fd, folder, found, 0, skip)
    finally:
        os.close(root_fd)
    return dict(found)


class _Read(dict[str, bytes]):
    """The files read so far, with their total size (kept as they are added)."""

    total = 0

    def add(self, path: str, data: bytes) -> None:
        self[path] = data
        self.total += len(data)


def _left(found: _Read) -> int:
    return MAX_TOTAL - found.total


def _walk(root_fd: int, folder: str, found: _Read, depth: int, skip: Collection[str] = ()) -> None:
    if depth > MAX_DEPTH:
        return
    fd = _open_under(root_fd, folder.split("/"), directory=True)
    if fd is None:
        return
    try:
        with os.scandir(fd) as listing:
            entries = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in listing)
    finally:
        os.close(fd)
    for name, is_dir in entries:
        if len(found) >= MAX_FILES:
            return
        path = f"{folder}/{name}"
        if path in skip and not is_dir:
            continue
        sub = _open_under(root_fd, path.split("/"), directory=True)
        if sub is not None:
            os.close(sub)
            _walk(root_fd, path, found, depth + 1, skip)
            continue
        fd = _open_under(root_fd, path.split("/"), directory=False)
        data = _read_fd(fd, _left(found)) if fd is not None else None
        if data is not None:
            found.add(path, data)


# What each kind of source loads (each assistant's walk reads the same rule files: their
# front matter is read once, `rule_info`).


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


@lru_cache(maxsize=16384)
def _keys(data: bytes) -> dict[str, str | list[str]]:
    """A Markdown file's front matter as `key: value` and `key:` + `- item` lists, quotes
    removed (the shape every tool here writes)."""
    head = _text(split_front_matter(data)[0])
    keys: dict[str, str | list[str]] = {}
    current = ""
    for line in head.splitlines()[1:-1]:
        stripped = line.strip()
        if stripped.startswith("- ") and current:
            value = keys.get(current)
            items = value if isinstance(value, list) else []
            items.append(_unquote(stripped[2:]))
            keys[current] = items
        elif ":" in line and not line[0].isspace():
            key, _, value = line.partition(":")
            current = key.strip()
            value = value.strip()
            if value.startswith("[") and value.endswith("]"):
                keys[current] = [_unquote(v) for v in value[1:-1].split(",") if v.strip()]
            else:
                keys[current] = _unquote(value) if value else []
    return keys


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].replace('\\"', '"')
    return value


def _list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [v.strip() for v in value.split(",") if v.strip()]


def _body(data: bytes) -> str:
    return _text(split_front_matter(data)[1]).strip()


class _Walk:
    """One reader's walk over a snapshot for one file."""

    def __init__(
        self,
        reader: Reader,
        files: Files,
        path: str,
        origins: Mapping[str, str],
        costs: bool = True,
    ):
        self.counting = costs
        self.reader = reader
        self.files = files
        self.path = path
        self.origins = origins
        self.dialect = Dialect(reader.dialect)
        self.costs: list[Cost] = []
        self.items: list[Item] = []

    def _cost(self, path: str, loads: str, text: str | bytes) -> None:
        """Count what loading `text` costs (given as a file's bytes: that file's body, worked
        out only when costs are counted)."""
        if self.counting:
            self.costs.append(cost(path, loads, _body(text) if isinstance(text, bytes) else text))

    def under(self, folder: str) -> list[str]:
        return sorted(p for p in self.files if p.startswith(folder))

    def name(self, path: str) -> str:
        return self.origins.get(path, path)

    def rule_file(self, path: str, how: How, text: str | bytes, glob: str = "") -> None:
        """A file holding one rule's text, or the bytes of the file whose body it is (the
        user's own rule too)."""
        rule = self.origins.get(path)
        if how is How.ALWAYS:
            self._cost(path, "full text", text)
        if rule is not None:
            self.items.append(Item(rule, how, path, glob))

    def glob_file(
        self, path: str, globs: Sequence[str], dialect: Dialect, text: str | bytes
    ) -> None:
        if not self.path:
            # The budget: a glob matching every file (`**/*`) is loaded on every request.
            everywhere = next((g for g in globs if _everywhere(g, dialect)), "")
            if everywhere:
                self._cost(path, f"full text (`{everywhere}`: every file)", text)
            self.rule_file(path, How.GLOB if everywhere else How.NOT_ATTACHED, "", everywhere)
            return
        matched = next((g for g in globs if matches(g, self.path, dialect)), "")
        self.rule_file(path, How.GLOB if matched else How.NOT_ATTACHED, "", matched)

    def described(self, path: str, description: str, how: How = How.REQUESTABLE) -> None:
        if how is How.REQUESTABLE and description:
            self._cost(path, "description", description)
        rule = self.origins.get(path)
        if rule is not None:
            self.items.append(Item(rule, how, path))

    def whole(self, path: str, shadowed: bool = False, limit: int = 0) -> int:
        """A file read whole on every request: its bytes (cut at `limit`) are the cost; the
        rules inside rulesync's block are items. Returns the bytes read."""
        data = self.files[path]
        kept = data[:limit] if limit and len(data) > limit else data
        if not shadowed:
            self._cost(path, "whole", _text(kept))
        for rule, how, start, globs in _block_items(data, path):
            if shadowed:
                how = How.SHADOWED
            elif limit and start >= limit:
                how = How.TRUNCATED
            # A listed rule says its (Cursor) globs: whether they match is part of the answer.
            glob = next((g for g in globs if matches(g, self.path)), "") if self.path else ""
            self.items.append(Item(rule, how, path, glob))
        return len(kept)


_WILDCARDS = str.maketrans("", "", "*?/")


@lru_cache(maxsize=4096)
def _everywhere(glob: str, dialect: Dialect) -> bool:
    """True for a glob that matches every file (tried on a root file and a deep one)."""
    plain = glob.strip().removeprefix("./")
    if not any(c in plain for c in "[{\\") and plain.translate(_WILDCARDS) not in ("", "."):
        # Each of its other characters must be met, in order, in a path it matches, and the
        # three paths share only a `.`: most globs (`**/*.py`) end here, never compiled.
        return False
    return all(matches(glob, p, dialect) for p in ("a.x", "b/c/d.y", ".e"))


@lru_cache(maxsize=64)
def _block_items(data: bytes, where: str) -> list[tuple[str, How, int, list[str]]]:
    """The tier's rules named in rulesync's block of a file: (rule, how, byte offset, the
    globs a listed rule is given with)."""
    try:
        span = find_block(data, where)
    except InvalidInput:  # a broken block: the user's to fix; no rule is recognised in it
        return []
    if span is None:
        return []
    found: list[tuple[str, How, int, list[str]]] = []
    section = ""
    offset = span[0]
    for line in data[span[0] : span[1]].splitlines(keepends=True):
        text = _text(line).strip()
        if text.startswith("## "):
            section = text
        mark = _RULE_MARK.match(text)
        item = _ITEM.match(text)
        if mark:
            found.append((mark.group(1), How.ALWAYS, offset, []))
        elif item:
            how = How.MANUAL if "by name" in section else How.REQUESTABLE
            globs: list[str] = []
            if " for files matching " in text:
                listed = text.split(" for files matching ", 1)[1].rsplit(": full text in ", 1)[0]
                globs = [g.strip().strip("`").strip() for g in listed.split("`, `")]
            found.append((item.group(2), how, offset, globs))
        offset += len(line)
    return found


def _agents_paths(files: Files, path: str, nested: bool, name: str = "AGENTS.md") -> list[str]:
    """The root's file, then (nested) each folder's on the way to `path`, that exist."""
    chain = [name]
    if nested:
        parts = path.split("/")[:-1]
        chain += ["/".join(parts[: d + 1]) + f"/{name}" for d in range(len(parts))]
    return [p for p in chain if p in files]


def _source(walk: _Walk, source: Source) -> None:
    kind = source.kind
    files = walk.files
    if kind == "mdc":
        for path in walk.under(source.path):
            if not path.endswith(".mdc"):
                continue
            info = rule_info(files[path])
            kind_of = info.rule_type
            if kind_of is RuleType.ALWAYS:
                walk.rule_file(path, How.ALWAYS, info.body.strip())
            elif kind_of is RuleType.AUTO_ATTACHED:
                walk.glob_file(path, info.cursor_globs, Dialect.GITIGNORE, info.body.strip())
            elif kind_of is RuleType.AGENT_REQUESTED:
                walk.described(path, info.description)
            else:
                walk.described(path, "", How.MANUAL)
    elif kind == "agents":
        used = 0
        for path in _agents_paths(files, walk.path, source.nested):
            if source.per != "all" or not source.limit:
                walk.whole(path, limit=source.limit)
            elif used >= source.limit:
                _cut_all(walk, path)
            else:
                # The files are joined root first and cut once the whole reaches the limit.
                used += walk.whole(path, limit=source.limit - used)
    elif kind == "whole":
        if source.path in files:
            walk.whole(source.path)
    elif kind == "claude-md":
        _claude_md(walk)
    elif kind == "paths-rules":
        for path in walk.under(source.path):
            if not path.endswith(".md"):
                continue
            paths = _list(_keys(files[path]).get("paths"))
            if paths:
                walk.glob_file(path, paths, Dialect.ROOTED, files[path])
            else:
                walk.rule_file(path, How.ALWAYS, files[path])
    elif kind == "skills":
        for path in walk.under(source.path):
            if not path.endswith("/SKILL.md"):
                continue
            keys = _keys(files[path])
            manual = str(keys.get("disable-model-invocation", "")).lower() == "true"
            description = keys.get("description", "")
            walk.described(
                path,
                description if isinstance(description, str) else "",
                How.MANUAL if manual else How.REQUESTABLE,
            )
    elif kind == "apply-to":
        for path in walk.under(source.path):
            if not path.endswith(".instructions.md"):
                continue
            keys = _keys(files[path])
            apply_to = _list(keys.get("applyTo"))
            description = keys.get("description", "")
            if apply_to:
                walk.glob_file(path, apply_to, Dialect.ROOTED, files[path])
            else:
                text = description if isinstance(description, str) else ""
                walk.described(path, text, How.REQUESTABLE if text else How.MANUAL)
    elif kind == "trigger":
        for path in walk.under(source.path):
            if not path.endswith(".md"):
                continue
            data = files[path]
            keys = _keys(data)
            trigger = keys.get("trigger", "")
            # No more characters than bytes: a file within the limit in bytes is not decoded.
            cut = source.limit and len(data) > source.limit and len(_text(data)) > source.limit
            if trigger == "always_on":
                walk.rule_file(path, How.TRUNCATED if cut else How.ALWAYS, data)
            elif trigger == "glob":
                walk.glob_file(path, _list(keys.get("globs")), walk.dialect, data)
            elif trigger == "model_decision":
                description = keys.get("description", "")
                walk.described(path, description if isinstance(description, str) else "")
            else:
                walk.described(path, "", How.MANUAL)
    elif kind == "first-of":
        first = next((n for n in source.names if n in files), None)
        for name in source.names:
            if name in files:
                walk.whole(name, shadowed=name != first)
    elif kind == "steering":
        for path in walk.under(source.path):
            if not path.endswith(".md"):
                continue
            data = files[path]
            keys = _keys(data)
            inclusion = keys.get("inclusion", "always")
            description = keys.get("description", "")
            if inclusion == "fileMatch":
                walk.glob_file(path, _list(keys.get("fileMatchPattern")), Dialect.ROOTED, data)
            elif inclusion == "auto":
                walk.described(path, description if isinstance(description, str) else "")
            elif inclusion == "manual":
                walk.described(path, "", How.MANUAL)
            else:
                walk.rule_file(path, How.ALWAYS, data)


def _cut_all(walk: _Walk, path: str) -> int:
    """A file wholly past the cut: nothing read, every rule in it truncated."""
    for rule, _, _, _ in _block_items(walk.files[path], path):
        walk.items.append(Item(rule, How.TRUNCATED, path))
    return 0


def imports(files: Files, path: str, depth: int = 0, seen: set[str] | None = None) -> list[str]:
    """The files `path` imports with `@path` lines (outside code), recursively up to 5
    hops, as Claude Code expands them; only files present in the snapshot."""
    seen = seen if seen is not None else {path}
    if depth >= 5 or path not in files:
        return []
    found: list[str] = []
    fenced = False
    folder = path.rpartition("/")[0]
    for line in _text(files[path]).splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        for match in _IMPORT.finditer(re.sub(r"`[^`]*`", "", line)):
            target = os.path.normpath(os.path.join(folder, match.group(1))).replace(os.sep, "/")
            if target in files and target not in seen:
                seen.add(target)
                found.append(target)
                found += imports(files, target, depth + 1, seen)
    return found


def _claude_md(walk: _Walk) -> None:
    files = walk.files
    own = [
        p
        for p in [
            *_agents_paths(files, walk.path, True, "CLAUDE.md"),
            ".claude/CLAUDE.md",
            "CLAUDE.local.md",
        ]
        if p in files
    ]
    read: list[str] = []
    for path in own:
        for item in (path, *imports(files, path)):
            if item not in read:
                read.append(item)
    agents = _agents_paths(files, walk.path, True)
    if not own:
        read += agents  # no CLAUDE.md: Claude Code reads AGENTS.md in its place
    for path in read:
        walk.whole(path)
    for path in agents:
        if path not in read:
            walk.whole(path, shadowed=True)


def simulate(
    reader: Reader, files: Files, path: str, origins: Mapping[str, str], costs: bool = True
) -> Load:
    """What `reader`'s assistant loads when working on `path` in a project holding `files`;
    `origins` names the tier's rule each whole file rulesync wrote holds (`costs`: False
    when only the rules' items are wanted)."""
    walk = _Walk(reader, files, path, origins, costs)
    for source in reader.sources:
        _source(walk, source)
    ordered = sorted(walk.costs, key=lambda c: (-c.tokens, c.name))
    return Load(reader.assistant, ordered, walk.items)


_FULL = (How.ALWAYS, How.GLOB)
# The verdicts of a file that holds a rule's full text, whatever the file worked on.
_FULL_TEXT = frozenset({How.ALWAYS, How.GLOB, How.NOT_ATTACHED})


class Verdict(NamedTuple):
    """One rule's verdict for one assistant, and the files it comes from."""

    rule: str
    how: How
    sources: tuple[str, ...]
    glob: str = ""


def verdicts(load: Load, rules: Iterable[str]) -> list[Verdict]:
    """Each of `rules`' verdict in `load`: loaded twice (its text from two files), attached
    (always or glob), truncated, requestable, manual, not attached, shadowed, or lost (no
    file the assistant reads holds it)."""
    by_rule: dict[str, list[Item]] = {}
    for item in load.items:
        by_rule.setdefault(item.rule, []).append(item)
    found: list[Verdict] = []
    order = (
        How.TWICE,
        How.ALWAYS,
        How.GLOB,
        How.TRUNCATED,
        How.REQUESTABLE,
        How.MANUAL,
        How.NOT_ATTACHED,
        How.SHADOWED,
    )
    for rule in rules:
        items = by_rule.get(rule, [])
        full = [i for i in items if i.how in _FULL]
        if len(full) > 1:
            found.append(Verdict(rule, How.TWICE, tuple(i.source for i in full)))
            continue
        if not items:
            found.append(Verdict(rule, How.LOST, ()))
            continue
        best = min(items, key=lambda i: order.index(i.how) if i.how in order else len(order))
        found.append(Verdict(rule, best.how, (best.source,), best.glob))
    return found


class Finding(NamedTuple):
    """A rule an assistant loads twice, or not at all, whatever the file worked on."""

    assistant: str
    kind: str  # "twice", "lost", "hidden" (behind a file read instead) or "truncated"
    rules: tuple[str, ...]
    sources: tuple[str, ...]
    tokens: int


def findings(
    reader: Reader, files: Files, origins: Mapping[str, str], rules: Mapping[str, str]
) -> list[Finding]:
    """For a tier (`rules`: rule → its text), the rules `reader`'s assistant would load twice
    on some file, and the rules it can reach from no file; with the tokens each costs."""
    from rulesync.explain import estimate_tokens

    # Every glob matches this path in the walk below: the question is which files could
    # bring a rule, not which do for one file.
    walk = _Walk(reader, files, "", origins, costs=False)
    for source in reader.sources:
        _source(walk, source)
    by_rule: dict[str, list[Item]] = {}
    for item in walk.items:
        by_rule.setdefault(item.rule, []).append(item)
    twice: dict[str, tuple[str, ...]] = {}
    lost: list[str] = []
    hidden: dict[str, str] = {}
    cut: dict[str, str] = {}
    for rule in rules:
        got = by_rule.get(rule)
        if not got:
            lost.append(rule)
            continue
        items = [i for i in got if i.how is not How.SHADOWED]
        if not items:
            hidden[rule] = got[0].source  # each file holding it is hidden behind another
            continue
        if len(items) == 1:  # one file brings it: neither twice nor cut beside an Always
            if items[0].how is How.TRUNCATED:
                cut[rule] = items[0].source
            continue
        truncated = [i for i in items if i.how is How.TRUNCATED]
        if truncated and not any(i.how is How.ALWAYS for i in items):
            cut[rule] = truncated[0].source
        full = {i.source for i in items if i.how in _FULL_TEXT}
        if len(full) > 1:
            twice[rule] = tuple(sorted(full))
    found: list[Finding] = []
    if twice:
        sources = tuple(sorted({s for v in twice.values() for s in v}))
        tokens = sum(estimate_tokens(rules[r]) * (len(v) - 1) for r, v in twice.items())
        found.append(Finding(reader.assistant, "twice", tuple(sorted(twice)), sources, tokens))
    if lost:
        tokens = sum(estimate_tokens(rules[r]) for r in lost)
        found.append(Finding(reader.assistant, "lost", tuple(sorted(lost)), (), tokens))
    if hidden:
        tokens = sum(estimate_tokens(rules[r]) for r in hidden)
        sources = tuple(sorted(set(hidden.values())))
        found.append(Finding(reader.assistant, "hidden", tuple(sorted(hidden)), sources, tokens))
    if cut:
        tokens = sum(estimate_tokens(rules[r]) for r in cut)
        sources = tuple(sorted(set(cut.values())))
        found.append(Finding(reader.assistant, "truncated", tuple(sorted(cut)), sources, tokens))
    return found


def describe(finding: Finding) -> str:
    """The one line apply, check and lint print for a finding."""
    names = ", ".join(finding.rules)
    if finding.kind == "hidden":
        return (
            f"{finding.assistant} reads another file first and never "
            f"{' or '.join(finding.sources)}, so it can reach none of {names} (about "
            f"{finding.tokens:,} tokens of rules); see the recommended target sets in "
            "docs/how-to/targets-and-assistants.md"
        )
    if finding.kind == "truncated":
        return (
            f"{finding.assistant} cuts {' and '.join(finding.sources)} before {names} "
            f"(about {finding.tokens:,} tokens never read): shorten the file, or the tier's "
            "Always rules"
        )
    if finding.kind == "twice":
        where = " and ".join(_group(finding.sources))
        return (
            f"{finding.assistant} loads {len(finding.rules)} rule(s) twice ({where}): {names}; "
            f"about {finding.tokens:,} tokens more per request that uses them"
        )
    return (
        f"{finding.assistant} can reach {len(finding.rules)} rule(s) from no file it reads: "
        f"{names} (about {finding.tokens:,} tokens of rules lost); add a target it reads"
    )


def _group(sources: Sequence[str]) -> list[str]:
    """Source paths shown by their folder when several share one (`.cursor/rules`)."""
    shown: list[str] = []
    for source in sources:
        folder = source.rsplit("/", 1)[0] if source.count("/") >= 2 else source
        if folder not in shown:
            shown.append(folder)
    return shown


def origins(
    targets: Iterable[Target],
    sources: Iterable[SourceRule],
    files: Files,
    shared: Iterable[str] = (),
) -> dict[str, str]:
    """Each whole file the targets write for one rule (present in `files`, not one of the
    `shared` files holding rulesync's block) → the rule's stem."""
    found: dict[str, str] = {}
    skip = set(shared)
    for target in targets:
        for rule in sources:
            path = target.where(rule)
            if path is not None and path in files and path not in found and path not in skip:
                found[path] = rule.stem
    return found


def own_files(disk: Files, managed: Iterable[str] = ()) -> dict[str, bytes]:
    """The project's own instruction files: `disk` without the files rulesync manages and
    without rulesync's block in any file (a file that held only the block is gone)."""
    from rulesync.targets.blocks import splice

    skip = set(managed)
    found: dict[str, bytes] = {}
    for path, data in disk.items():
        if path in skip:
            continue
        try:
            kept = splice(data, None, path) if b"<!-- rulesync:" in data else data
        except InvalidInput:
            kept = data  # broken marker lines: left as they are, as apply leaves them
        if kept is not None:
            found[path] = kept
    return found


def after_apply(
    own: Files, output_files: Mapping[str, bytes], blocks: Mapping[str, bytes]
) -> dict[str, bytes]:
    """The snapshot once apply has run: the project's own files (`own_files`) with every
    desired file written and every block spliced into its file."""
    from rulesync.targets.blocks import splice

    found = dict(own)
    found.update(output_files)
    for path, content in blocks.items():
        try:
            spliced = splice(own.get(path), content, path)
        except InvalidInput:
            continue  # broken marker lines: apply leaves the file as it is (a conflict)
        if spliced is not None:
            found[path] = spliced
    return found


class View(NamedTuple):
    """A project's files as assistants will find them, and which hold the tier's rules."""

    files: dict[str, bytes]
    origins: dict[str, str]


def view(
    disk: Files,
    targets: Sequence[Target],
    sources: Sequence[SourceRule],
    output_files: Mapping[str, bytes],
    blocks: Mapping[str, bytes],
) -> View:
    """The snapshot after apply (`after_apply`) with each rulesync file's rule."""
    files = after_apply(disk, output_files, blocks)
    return View(files, origins(targets, sources, files, blocks))


def named(costs: Sequence[Cost], found: Mapping[str, str]) -> list[Cost]:
    """Costs with each rulesync file shown as its rule (`python.mdc`), the others as paths."""
    return [c._replace(name=f"{found[c.name]}.mdc") if c.name in found else c for c in costs]


def loaded_elsewhere(
    target: Target,
    targets: Sequence[Target],
    sources: Sequence[SourceRule],
    others: Mapping[str, Rendered],
    disk: Files,
) -> set[str]:
    """The Always rules `target`'s assistant loads on every request from files other enabled
    targets write (`others`' renderings), beside the project's own files."""
    always = {s.stem for s in sources if s.info.rule_type is RuleType.ALWAYS}
    if target.reads is None or not always:
        return set()  # only an Always rule is ever left out: with none, nothing to simulate
    from rulesync.targets import combine

    out = combine(others)
    mine = [p for p in disk if target.claims(p)]
    files = after_apply({p: d for p, d in disk.items() if p not in mine}, out.files, out.blocks)
    found = origins([t for t in targets if t is not target], sources, files, out.blocks)
    load = simulate(target.reads, files, "", found, costs=False)
    return {i.rule for i in load.items if i.how is How.ALWAYS and i.rule in always}


def plan_together(
    names: Sequence[str], rules: Sequence[SourceRule], disk: Mapping[str, bytes]
) -> dict[str, Rendered]:
    """The named targets' renderings planned together beside the project's own instruction
    files (`disk`): a target that `drops_loaded` leaves out the Always rules its assistant
    reads, by the reading model, in the others' files once written (Claude Code and Devin
    Desktop read AGENTS.md), so that no assistant loads a rule twice where one copy does."""
    targets = [get(name) for name in names]
    first = render_all(names, rules)
    planned = {}
    for target in targets:
        others = {n: r for n, r in first.items() if n != target.name}
        dropped = (
            loaded_elsewhere(target, targets, rules, others, disk)
            if target.drops_loaded and others
            else set()
        )
        if dropped:
            kept = [r for r in rules if r.stem not in dropped]
            planned[target.name] = render(target, targets, kept)
        else:
            planned[target.name] = first[target.name]
    return planned


def enabled_readers(targets: Sequence[Target]) -> list[Reader]:
    """The assistants a set of targets is written for: each target's, then, when AGENTS.md
    is written, every assistant that reads only AGENTS.md."""
    found = [t.reads for t in targets if t.reads is not None]
    if any(t.name == "agents" for t in targets):
        found += AGENTS_ONLY
    return found


def tier_warnings(
    disk: Files,
    targets: Sequence[Target],
    sources: Sequence[SourceRule],
    output_files: Mapping[str, bytes],
    blocks: Mapping[str, bytes],
    budget: int | None = None,
) -> list[str]:
    """One line per assistant that would load some of the tier's rules twice, reach some
    from no file, or load more on every request than the library's `budget` (tokens), once
    apply has written `output` beside the project's own files."""
    files = after_apply(disk, output_files, blocks)
    found = origins(targets, sources, files, blocks)
    texts = {s.stem: s.text for s in sources}
    lines = [
        describe(f) for r in enabled_readers(targets) for f in findings(r, files, found, texts)
    ]
    if budget is not None:
        for target in targets:
            if target.reads is None:
                continue
            load = simulate(target.reads, files, "", found)
            tokens = sum(c.tokens for c in load.costs)
            if tokens > budget:
                lines.append(
                    f"{target.reads.assistant} loads about {tokens:,} tokens on every request, "
                    f"over the library's budget of {budget:,} (budget.always_tokens); "
                    "`rulesync explain` shows what"
                )
    return lines


__all__ = [
    "AGENTS_ONLY",
    "Finding",
    "Item",
    "Load",
    "Verdict",
    "after_apply",
    "describe",
    "enabled_readers",
    "findings",
    "imports",
    "loaded_elsewhere",
    "origins",
    "own_files",
    "plan_together",
    "read_project",
    "readers",
    "simulate",
    "tier_warnings",
    "verdicts",
    "view",
]
