""" "Did you mean …?" for a mistyped name: a phase, a marker key, a tier, a metric, a command."""

from __future__ import annotations

from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` most likely misspells, or None when none is close."""
    import difflib  # only on an error path: keeps it out of every command's start-up

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean `x`?)` to follow the mistyped name in a message, or "" when nothing is
    close."""
    match = closest(word, choices)
    return f" (did you mean `{match}`?)" if match else ""
