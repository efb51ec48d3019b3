"""Globs: how each assistant reads a file pattern, a Cursor pattern translated into another
dialect without changing what it matches, and matching in linear time. Pure functions.

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

A rule's globs come from a library: a regular expression built from one (`**/` as
`(?:.*/)?`) backtracks exponentially in the number of `**/` segments, and `{a,b}` twenty-two
times over writes out four million patterns. Here a glob becomes a small automaton whose set
of live states advances one character at a time — time in proportion to the path's length
times the glob's — and a brace product past MAX_BRACE_PATTERNS is refused before anything is
written out.
"""

import re
from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from rulesync.errors import InvalidInput

# The patterns one glob's brace groups may expand to (`{a,b}/{c,d}` is four).
MAX_BRACE_PATTERNS = 256
_BRACE = re.compile(r"\{([^{}]*)\}")

Test = Callable[[str], bool]


class Dialect(StrEnum):
    """How an assistant reads a glob (see the module docstring)."""

    GITIGNORE = "gitignore"
    ROOTED = "rooted"


def _any(_: str) -> bool:
    return True


def _not_slash(char: str) -> bool:
    return char != "/"


class _State(NamedTuple):
    """One automaton state: the states it reaches on no character, and (test, next) pairs."""

    empty: tuple[int, ...]
    steps: tuple[tuple[Test, int], ...]


class _Builder:
    def __init__(self) -> None:
        self.empty: list[list[int]] = []
        self.steps: list[list[tuple[Test, int]]] = []

    def new(self) -> int:
        self.empty.append([])
        self.steps.append([])
        return len(self.empty) - 1


def _is(want: str) -> Test:
    return lambda char: char == want


def _class_test(inner: str) -> Test:
    """A `[...]` character class (`[!...]` negated), as the regular-expression class it is."""
    if inner.startswith("!"):
        inner = "^" + inner[1:]
    try:
        one = re.compile("[" + inner.replace("\\", "\\\\") + "]", re.DOTALL)
    except re.error:
        return lambda _: False  # a broken class matches nothing, as a broken glob does
    return lambda char: one.fullmatch(char) is not None


class Glob(NamedTuple):
    """A compiled glob: its states and the accepting one."""

    states: tuple[_State, ...]
    accept: int

    def matches(self, path: str) -> bool:
        """True when the whole of `path` is matched (time linear in its length)."""
        live = self._closure({0})
        for char in path:
            live = self._closure(
                {nxt for s in live for test, nxt in self.states[s].steps if test(char)}
            )
            if not live:
                return False
        return self.accept in live

    def _closure(self, states: set[int]) -> set[int]:
        todo = list(states)
        while todo:
            for nxt in self.states[todo.pop()].empty:
                if nxt not in states:
                    states.add(nxt)
                    todo.append(nxt)
        return states


@lru_cache(maxsize=2048)
def compile_glob(pattern: str, dialect: Dialect = Dialect.GITIGNORE) -> Glob:
    """The automaton of one glob: `*` within a folder name, `**` across folders, `**/` any
    folders or none, `?` one character, `[...]` a class. In the gitignore dialect a glob
    without `/` matches at any depth and a glob naming a folder covers everything inside it;
    in the rooted dialect (braces already expanded) a glob matches the whole path."""
    pattern = pattern.strip().removeprefix("./")
    gitignore = dialect is Dialect.GITIGNORE
    anchored = "/" in pattern.rstrip("/") or not gitignore
    if gitignore:
        pattern = pattern.lstrip("/")
        if pattern.endswith("/"):
            pattern += "**"
    b = _Builder()
    here = b.new()

    def any_folders(state: int) -> int:
        # `(?:.*/)?`: nothing, or anything that ends with `/`.
        inner, after = b.new(), b.new()
        b.empty[state] += [after, inner]
        b.steps[inner] += [(_any, inner), (_is("/"), after)]
        return after

    def star(state: int, test: Test) -> int:
        after = b.new()
        b.steps[state].append((test, state))
        b.empty[state].append(after)
        return after

    def one(state: int, test: Test) -> int:
        after = b.new()
        b.steps[state].append((test, after))
        return after

    if not anchored:
        here = any_folders(here)
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            here, i = any_folders(here), i + 3
        elif pattern.startswith("**", i):
            here, i = star(here, _any), i + 2
        elif char == "*":
            here, i = star(here, _not_slash), i + 1
        elif char == "?":
            here, i = one(here, _not_slash), i + 1
        elif char == "[" and "]" in pattern[i + 2 :]:
            close = pattern.index("]", i + 2)
            here, i = one(here, _class_test(pattern[i + 1 : close])), close + 1
        else:
            here, i = one(here, _is(char)), i + 1
    accept = b.new()
    b.empty[here].append(accept)
    if gitignore:
        # `(?:/.*)?`: the folder a glob names covers everything inside it.
        inside = b.new()
        b.steps[here].append((_is("/"), inside))
        b.steps[inside].append((_any, inside))
        b.empty[inside].append(accept)
    states = tuple(_State(tuple(e), tuple(s)) for e, s in zip(b.empty, b.steps, strict=True))
    return Glob(states, accept)


def matches(pattern: str, path: str, dialect: Dialect = Dialect.GITIGNORE) -> bool:
    """True when `pattern`, read in `dialect`, matches `path` (project-relative, `/`)."""
    if not pattern.strip():
        return False
    path = path.removeprefix("./")
    if dialect is Dialect.GITIGNORE:
        return compile_glob(pattern, dialect).matches(path)
    options = expand_braces(pattern.strip().removeprefix("./"), refuse=False)
    return any(compile_glob(p, dialect).matches(path) for p in options[:MAX_BRACE_PATTERNS])


def glob_matches(pattern: str, path: str) -> bool:
    """True when Cursor glob `pattern` matches `path` (project-relative, `/`-separated)."""
    return matches(pattern, path, Dialect.GITIGNORE)


def brace_count(glob: str) -> int:
    """How many patterns `glob`'s brace groups write out (counted, not expanded; nested
    groups counted as their expansion would be), capped at MAX_BRACE_PATTERNS + 1."""
    return len(expand_braces(glob, refuse=False))


def expand_braces(glob: str, *, refuse: bool = True) -> list[str]:
    """`src/{a,b}/*.ts` → `src/a/*.ts`, `src/b/*.ts`, in order, without repeats. More than
    MAX_BRACE_PATTERNS is refused (InvalidInput), or with `refuse=False` cut there."""
    done: list[str] = []
    pending = [glob]
    while pending:
        expanded: list[str] = []
        for item in pending:
            match = _BRACE.search(item)
            if match is None or "," not in match.group(1):
                expanded.append(item)
                continue
            head, tail = item[: match.start()], item[match.end() :]
            expanded += [head + option + tail for option in match.group(1).split(",")]
        expanded = list(dict.fromkeys(expanded))
        if len(expanded) > MAX_BRACE_PATTERNS:
            if refuse:
                raise InvalidInput(
                    f"glob `{glob[:80]}`: its brace groups write out more than "
                    f"{MAX_BRACE_PATTERNS} patterns; list the patterns comma-separated"
                )
            return expanded[: MAX_BRACE_PATTERNS + 1]
        if expanded == pending:
            done = expanded
            break
        pending = expanded
    return done


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
