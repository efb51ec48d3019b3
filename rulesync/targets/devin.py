"""`devin`: Devin Desktop (formerly Windsurf) rules, `.devin/rules/<name>.md`.

Front matter `trigger:` always_on / glob (+ `globs:`) / model_decision (+ `description:`)
/ manual. `globs` is a YAML list of quoted globs: the one form both Devin Desktop and the
Devin CLI read (the CLI refuses a bare string). The tool reads one folder level, so a nested
rule is flattened: `frontend/react.mdc` → `frontend__react.md`. A rule file over 12,000
characters is cut by the tool: warned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rulesync.mdc import RuleType
from rulesync.targets.base import (
    Fact,
    Locator,
    Reader,
    Rendered,
    Renderer,
    Source,
    SourceRule,
    Target,
    encoding_warnings,
    flatten,
    front_matter,
    unique_paths,
)

FOLDER = ".devin/rules"
MAX_CHARS = 12_000
_TRIGGERS = {
    RuleType.ALWAYS: "always_on",
    RuleType.AUTO_ATTACHED: "glob",
    RuleType.AGENT_REQUESTED: "model_decision",
    RuleType.MANUAL: "manual",
}


def rule_file(rule: SourceRule) -> str:
    """The Markdown with `trigger` front matter for one rule."""
    kind = rule.info.rule_type
    entries: list[tuple[str, str | Sequence[str]]] = [("trigger", _TRIGGERS[kind])]
    if kind is RuleType.AUTO_ATTACHED:
        entries.append(("globs", rule.info.globs))
    if rule.info.description and kind is not RuleType.ALWAYS:
        entries.append(("description", rule.info.description))
    return front_matter(entries) + rule.text


def locator(folder: str) -> Callable[[SourceRule], str]:
    """Where a target of this format writing into `folder` keeps a rule (every rule type)."""

    def locate(rule: SourceRule) -> str:
        return f"{folder}/{flatten(rule.stem)}.md"

    return locate


def renderer(name: str, folder: str, tool: str) -> Renderer:
    """The render function of a target of this format, named `name`, writing into `folder`."""
    locate = locator(folder)

    def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
        pairs = [(locate(rule), rule) for rule in rules]
        unique_paths(pairs, name)
        files: dict[str, bytes] = {}
        warnings = encoding_warnings(rules, name)
        for path, rule in pairs:
            text = rule_file(rule)
            if len(text) > MAX_CHARS:
                warnings.append(
                    f"{path}: {len(text):,} characters; {tool} reads only the first "
                    f"{MAX_CHARS:,} of a rule file"
                )
            files[path] = text.encode()
        return Rendered(files=files, warnings=tuple(warnings))

    return render


def reader(assistant: str, folder: str) -> Reader:
    """How Devin Desktop (or Windsurf) reads a project whose rules are in `folder`."""
    return Reader(
        assistant,
        (
            Source("trigger", f"{folder}/", limit=MAX_CHARS, unit="chars"),
            Source("agents", "AGENTS.md"),
        ),
        "gitignore",
        (
            Fact(
                "rules in .windsurf/rules (Devin Desktop: .devin/rules) with trigger "
                "always_on, glob, model_decision or manual; the root AGENTS.md is always on, "
                "a subfolder's applies to its files",
                "https://docs.windsurf.com/windsurf/cascade/memories",
            ),
            Fact(
                "a rule file is cut at 12,000 characters",
                "https://docs.windsurf.com/windsurf/cascade/memories",
            ),
            Fact(
                "`globs` read like Cursor's (.gitignore style)",
                "https://docs.windsurf.com/windsurf/cascade/memories",
                assumed=True,
            ),
        ),
    )


TARGET = Target(
    name="devin",
    owns=(f"{FOLDER}/",),
    suffix=".md",
    render_rules=renderer("devin", FOLDER, "Devin Desktop"),
    locate=locator(FOLDER),
    reads=reader("Devin Desktop", FOLDER),
    drops_loaded=True,
)
