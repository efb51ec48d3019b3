"""Glob dialects: how each assistant reads a file pattern, and a Cursor pattern translated
into another dialect without changing what it matches. Pure functions.

Two dialects are documented by the tools rulesync writes for:

- `gitignore` (Cursor; Devin Desktop assumed alike, its docs give only `*.js` and
  `src/**/*.ts`): a pattern without a `/` matches the file's name in any folder; a pattern
  with a `/` is anchored at the project root; a leading `/` only anchors; a pattern naming a
  folder (or ending in `/`) covers every file under it; braces are literal.
- `rooted` (Claude Code `paths`, Copilot `applyTo`, Kiro `fileMatchPattern`, Cline `paths`):
  every pattern is matched against the whole project-relative path, so `*.py` is the root
  folder's Python files only (GitHub's docs say so of `applyTo`; Claude Code's of `paths`);
  `**` spans folders; `{a,b}` braces expand.

`translate` gives the rooted patterns that match what a Cursor pattern matches; None for a
pattern the rooted dialect cannot say (a `!negation`), which lint and explain then report.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

_BRACE = re.compile(r"\{([^{}]*)\}")
# Expansion is bounded: a pattern of many brace groups must not multiply without end.
MAX_EXPANSION = 64


class Dialect(StrEnum):
    """How an assistant reads a glob (see the module docstring)."""

    GITIGNORE = "gitignore"
    ROOTED = "rooted"


def expand_braces(glob: str) -> list[str]:
    """`src/{a,b}/*.ts` → `src/a/*.ts`, `src/b/*.ts` (at most MAX_EXPANSION patterns)."""
    match = _BRACE.search(glob)
    if match is None or "," not in match.group(1):
        return [glob]
    head, tail = glob[: match.start()], glob[match.end() :]
    expanded: list[str] = []
    for option in match.group(1).split(","):
        for item in expand_braces(head + option + tail):
            if item not in expanded and len(expanded) < MAX_EXPANSION:
                expanded.append(item)
    return expanded


def _body(pattern: str, i: int = 0) -> str:
    """The regex of a glob's segments: `**/` any folders, `**` anything, `*` and `?` within
    one folder, `[…]` a class (`[!…]` negated), everything else literal."""
    out: list[str] = []
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and "]" in pattern[i + 2 :]:
            close = pattern.index("]", i + 2)
            inner = pattern[i + 1 : close]
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


@lru_cache(maxsize=2048)
def _regex(dialect: Dialect, pattern: str) -> re.Pattern[str] | None:
    pattern = pattern.strip().removeprefix("./")
    if dialect is Dialect.ROOTED:
        options = expand_braces(pattern)
        try:
            return re.compile("|".join(f"(?:{_body(p)})" for p in options), re.DOTALL)
        except re.error:
            return None
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    prefix = "" if anchored else "(?:.*/)?"
    try:
        # A pattern that names a folder covers everything inside it, as in .gitignore.
        return re.compile(prefix + _body(pattern) + "(?:/.*)?", re.DOTALL)
    except re.error:
        return None


def matches(pattern: str, path: str, dialect: Dialect = Dialect.GITIGNORE) -> bool:
    """True when `pattern`, read in `dialect`, matches `path` (project-relative, `/`)."""
    if not pattern.strip():
        return False
    regex = _regex(dialect, pattern)
    # A character class the regex engine rejects matches nothing, as a broken glob does.
    return regex is not None and regex.fullmatch(path.removeprefix("./")) is not None


def translate(pattern: str) -> list[str] | None:
    """Rooted patterns matching what the Cursor (gitignore) pattern matches; None when the
    rooted dialect cannot say it (`!negation`). Braces are kept: the rooted tools expand
    them, which is what a brace glob's author means (Cursor reads them literally, and lint
    says so)."""
    found = _translate(pattern)
    return None if found is None else list(found)


@lru_cache(maxsize=8192)
def _translate(pattern: str) -> tuple[str, ...] | None:
    pattern = pattern.strip().removeprefix("./")
    if pattern.startswith("!"):
        return None
    folder = pattern.endswith("/")
    anchored = "/" in pattern.rstrip("/")
    core = pattern.strip("/") if folder or pattern.startswith("/") else pattern
    if not core:
        return None
    if not anchored and not core.startswith("**"):
        core = f"**/{core}"
    if folder:
        return (f"{core}/**",)
    last = core.rsplit("/", 1)[-1]
    if anchored and not any(c in last for c in "*?[{.") and last:
        # gitignore lets a name stand for a folder too (`src/api` covers `src/api/app.py`).
        return (core, f"{core}/**")
    return (core,)


def untranslatable(globs: tuple[str, ...] | list[str]) -> list[str]:
    """The patterns of `globs` that `translate` cannot carry into the rooted dialect."""
    return [g for g in globs if _translate(g) is None]


def rooted_globs(globs: tuple[str, ...] | list[str]) -> list[str]:
    """Every translatable pattern of `globs` in the rooted dialect, in order, once each."""
    found: list[str] = []
    for glob in globs:
        for item in _translate(glob) or ():
            if item not in found:
                found.append(item)
    return found
