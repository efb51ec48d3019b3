"""`cursor`: the rules as Cursor reads them, `.cursor/rules/<path>` byte for byte, nested
folders kept (Cursor reads `.cursor/rules` recursively)."""

from __future__ import annotations

from collections.abc import Sequence

from rulesync.targets.base import Fact, Locator, Reader, Rendered, Source, SourceRule, Target

FOLDER = ".cursor/rules"


def locate(rule: SourceRule) -> str:
    """Where the cursor target writes the rule: every rule type, whole."""
    return f"{FOLDER}/{rule.path}"


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """Every rule copied byte for byte under `.cursor/rules`."""
    return Rendered(files={locate(rule): rule.data for rule in rules})


TARGET = Target(
    name="cursor",
    owns=(f"{FOLDER}/",),
    suffix=".mdc",
    render_rules=render,
    locate=locate,
    reads=Reader(
        "Cursor",
        (Source("mdc", f"{FOLDER}/"), Source("agents", "AGENTS.md", nested=True)),
        "gitignore",
        (
            Fact(
                "project rules are .cursor/rules/**/*.mdc (alwaysApply, globs, description); "
                "AGENTS.md at the root and in subfolders is read as plain instructions",
                "https://cursor.com/docs/rules",
            ),
            Fact(
                "globs follow .gitignore: `*.py` matches in any folder; braces are literal",
                "https://cursor.com/docs/rules",
                assumed=True,
            ),
        ),
    ),
)
