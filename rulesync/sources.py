"""Metric sources as `tiers.yaml` declares them: the kinds, their defaults and the checks of
a declaration (`rulesync.library` reads them; `rulesync.evidence` measures them)."""

from __future__ import annotations

from rulesync.names import has_control

KINDS = ("git", "files", "prometheus", "file")
GIT_MEASURES = ("authors", "commits_per_week", "age_days", "contributors")
# Default windows, in days, for the git figures that count commits.
DEFAULT_DAYS = {"authors": 90, "commits_per_week": 28}
# Authors left out of `authors` and `contributors` unless the source says otherwise: bots by
# their `[bot]` name, and the no-reply mailboxes automation commits from. A person committing
# from GitHub's private `…@users.noreply.github.com` address is counted.
DEFAULT_BOTS = r"(?i)\[bot\]|<(no-?reply|bot|actions?)@"


# Each check gives the problem or None.


def promql_problem(query: str) -> str | None:
    """Why `query` cannot be a PromQL expression: empty, a control character, an unclosed
    quote or an unbalanced bracket."""
    if not query.strip():
        return "an empty query"
    if has_control(query):
        return "a control character (write the query on one line)"
    closing = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    quote = ""
    escaped = False
    for char in query:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in closing:
            stack.append(closing[char])
        elif char in ")]}" and (not stack or stack.pop() != char):
            return f"an unbalanced `{char}`"
    if quote:
        return f"an unclosed {quote} quote"
    if stack:
        return f"an unclosed bracket (`{stack[-1]}` missing)"
    return None


def path_problem(path: str) -> str | None:
    """Why `path` (a glob or a file name) cannot name something inside the project."""
    if not path.strip():
        return "an empty path"
    if has_control(path) or "\\" in path:
        return "a control character or a backslash"
    if path.startswith(("/", "~")) or (
        path[1:2] == ":" and path[:1].isascii() and path[:1].isalpha()
    ):
        return "an absolute path: write it relative to the project's root"
    parts = path.rstrip("/").split("/")
    if ".." in parts:
        return "`..`: it would leave the project"
    if ".git" in parts:
        return "`.git`: git's own files are never read"
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a regular expression Python reads."""
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression ({exc})"
    return None
