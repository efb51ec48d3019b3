"""What an `apply` said on the console, and what the commit it made says: the same counts.

`basic: +3 ~1 -0, 10 adopted, 1 released` on the console; `(+3 ~1, 10 adopted)` in a
commit's subject; `A`, `M`, `D`, `adopt`, `release` lines in its body. `support.repos.rulesync`
compares the three after every `apply` that commits, in every test of the suite.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

_CONSOLE = re.compile(r"^\S+: (\+\d+ ~\d+ -\d+(?:, \d+ \w+)*)", re.MULTILINE)
_SUBJECT = re.compile(r"\(([^)]*)\)$")
_WORDS = {"adopted": "adopted", "released": "released"}


def _parse_counts(text: str) -> dict[str, int]:
    counts = {"+": 0, "~": 0, "-": 0, "adopted": 0, "released": 0}
    for part in text.split(", "):
        for item in part.split():
            if item[0] in "+~-":
                counts[item[0]] = int(item[1:])
        number, _, word = part.partition(" ")
        if number.isdigit() and word in _WORDS:
            counts[_WORDS[word]] = int(number)
    return counts


def console_counts(stdout: str) -> dict[str, int]:
    match = _CONSOLE.search(stdout)
    assert match, stdout
    return _parse_counts(match.group(1))


def subject_counts(subject: str) -> dict[str, int]:
    match = _SUBJECT.search(subject)
    assert match, subject
    return _parse_counts(match.group(1))


def body_counts(body: str) -> dict[str, int]:
    counts = {"+": 0, "~": 0, "-": 0, "adopted": 0, "released": 0}
    signs = {"A": "+", "M": "~", "D": "-", "adopt": "adopted", "release": "released"}
    for line in body.splitlines()[2:]:
        code = line.split(" ", 1)[0]
        if code in signs and " " in line:
            counts[signs[code]] += 1
    return counts


_COMMITTED = re.compile(r"^committed ([0-9a-f]{7,64})$", re.MULTILINE)


def check_commit_counts(cwd: Path, stdout: str) -> None:
    """When `apply`'s output says it committed, its summary's counts must be the commit's,
    in the subject and in the body's lines."""
    committed = _COMMITTED.search(stdout)
    if committed is None:
        return
    body = subprocess.run(
        ["git", "log", "-1", "--format=%B", committed.group(1)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    console = console_counts(stdout)
    subject = body.splitlines()[0]
    assert console == subject_counts(subject) == body_counts(body), (
        f"apply said {console}, its commit: {subject!r}\n{body}"
    )
