"""What a repository already has for its assistants: its own rule files per tool and the
files assistants read (AGENTS.md, CLAUDE.md, …), found without following a symlink. Read by
`init` (before it writes), `import`, `status` and `check --verbose` (the user's files beside
rulesync's)."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import NamedTuple

# Each tool's own rule folder and the suffix of its rule files (read recursively).
RULE_FOLDERS: dict[str, tuple[str, str]] = {
    "cursor": (".cursor/rules", ".mdc"),
    "claude": (".claude/rules", ".md"),
    "copilot": (".github/instructions", ".instructions.md"),
    "devin": (".devin/rules", ".md"),
    "windsurf": (".windsurf/rules", ".md"),
    "kiro": (".kiro/steering", ".md"),
    "cline": (".clinerules", ".md"),
}
# Files an assistant reads whole, at their fixed places.
ASSISTANT_FILES = (
    "AGENTS.md",
    "CLAUDE.md",
    ".github/copilot-instructions.md",
    ".cursorrules",
    ".windsurfrules",
    ".clinerules",
    "GEMINI.md",
)
# Bounds, whatever the repository holds: folder depth and files listed per tool.
MAX_DEPTH = 8
MAX_FILES = 20_000


class Skipped(NamedTuple):
    """A path seen and not read, with why."""

    path: str
    reason: str


class Found(NamedTuple):
    """`rules`: tool → its rule files (project-relative, sorted); `files`: the assistant
    files present; `links`: a file that only points at another (`CLAUDE.md` → `AGENTS.md`,
    as a symlink or an `@AGENTS.md` import); `skipped`: symlinks and the like, not read."""

    rules: dict[str, tuple[str, ...]]
    files: tuple[str, ...]
    links: dict[str, str]
    skipped: tuple[Skipped, ...]

    @property
    def any(self) -> bool:
        """True when the repository has rules or assistant files of its own."""
        return bool(self.files) or any(self.rules.values())


def walk(root: Path, folder: str, suffix: str, skipped: list[Skipped]) -> Iterator[str]:
    """Regular files ending in `suffix` under `folder`, at any depth up to MAX_DEPTH; a
    symlink (file or folder) is never followed, and is reported."""
    pending = [(folder, 0)]
    count = 0
    while pending:
        current, depth = pending.pop()
        try:
            entries = sorted(os.scandir(root / current), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            path = f"{current}/{entry.name}"
            if entry.is_symlink():
                if entry.name.endswith(suffix) or _is_folder_link(entry):
                    skipped.append(Skipped(path, "a symlink (never followed)"))
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 < MAX_DEPTH:
                    pending.append((path, depth + 1))
                else:
                    skipped.append(Skipped(path, f"deeper than {MAX_DEPTH} folders"))
                continue
            if entry.name.endswith(suffix) and entry.is_file(follow_symlinks=False):
                count += 1
                if count > MAX_FILES:
                    skipped.append(Skipped(current, f"more than {MAX_FILES} files"))
                    return
                yield path


def _is_folder_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _link(root: Path, name: str) -> str | None:
    """What `name` points at when it only points at another file: a symlink's target inside
    the project, or a file whose one line is `@OTHER` (Claude Code's import)."""
    path = root / name
    if path.is_symlink():
        return os.readlink(path)
    if not _regular(path):
        return None
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    if len(lines) == 1 and lines[0].startswith(b"@") and b" " not in lines[0]:
        return lines[0][1:].decode("utf-8", "replace")
    return None


def scan(root: Path, tools: Collection[str] = tuple(RULE_FOLDERS)) -> Found:
    """Every rule file of the named tools and every assistant file in the repository at
    `root`, without following a symlink."""
    skipped: list[Skipped] = []
    rules: dict[str, tuple[str, ...]] = {}
    for tool in tools:
        folder, suffix = RULE_FOLDERS[tool]
        parts = folder.split("/")
        if any(os.path.islink(root.joinpath(*parts[: i + 1])) for i in range(len(parts))):
            skipped.append(Skipped(folder, "a symlink (never followed)"))
            continue
        if (root / folder).is_dir():
            rules[tool] = tuple(sorted(walk(root, folder, suffix, skipped)))
    files = tuple(n for n in ASSISTANT_FILES if _regular(root / n) or os.path.islink(root / n))
    links: dict[str, str] = {}
    for name in ("CLAUDE.md", "GEMINI.md"):
        target = _link(root, name) if name in files else None
        if target:
            links[name] = target
    return Found(rules, files, links, tuple(skipped))


def yours(found: Found, ours: Collection[str]) -> dict[str, list[str]]:
    """Per tool, the rule files that are not rulesync's (`ours`: managed or to be written)."""
    listed = {tool: [p for p in paths if p not in ours] for tool, paths in found.rules.items()}
    return {tool: paths for tool, paths in listed.items() if paths}
