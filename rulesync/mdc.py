"""Cursor `.mdc` rule files: a tolerant front-matter reader, rule types and lint findings.

Front matter is not strict YAML (`globs: **/*.ts` is an alias to a YAML parser), so it is read
line by line here. Rule files are never re-serialised: rulesync copies their bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

KNOWN_KEYS = ("description", "globs", "alwaysApply")
UNIVERSAL_GLOBS = frozenset({"*", "**", "**/*", "**/*.*", "./**/*", "/**/*"})
_KEY_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*:(?:\s+(.*)|\s*)$")
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


class RuleType(StrEnum):
    """How Cursor attaches a rule, derived from its front matter."""

    ALWAYS = "Always"
    AUTO_ATTACHED = "Auto Attached"
    AGENT_REQUESTED = "Agent Requested"
    MANUAL = "Manual"


@dataclass(frozen=True)
class Finding:
    """One lint result: `level` is "error" or "warning"."""

    level: str
    message: str
    line: int = 0


@dataclass(frozen=True)
class RuleInfo:
    """What the reader understood of one rule file."""

    description: str = ""
    globs: tuple[str, ...] = ()
    always_apply: bool = False
    has_front_matter: bool = False
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def rule_type(self) -> RuleType:
        """The Cursor rule type: Always, Auto Attached, Agent Requested or Manual."""
        if self.always_apply:
            return RuleType.ALWAYS
        if self.globs:
            return RuleType.AUTO_ATTACHED
        if self.description:
            return RuleType.AGENT_REQUESTED
        return RuleType.MANUAL

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "warning")


def _unquote(value: str) -> tuple[str, bool]:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1], True
    return value, False


def _strip_comment(value: str) -> str:
    # A YAML comment needs a space before `#`; globs such as `#*.md` stay intact.
    match = re.search(r"\s#", value)
    if match and not value.lstrip().startswith(("'", '"')):
        return value[: match.start()].rstrip()
    return value


def _split_globs(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    parts = []
    depth = 0
    current: list[str] = []
    for char in value:
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [g for g in (_unquote(p)[0].strip() for p in parts) if g]


def read_rule(data: bytes) -> RuleInfo:
    """Read a rule file's front matter tolerantly; never raises on any input."""
    findings: list[Finding] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RuleInfo(findings=(Finding("error", f"not UTF-8 (byte {exc.start})"),))
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    if not lines or lines[0].rstrip() != "---":
        return RuleInfo(
            findings=(Finding("warning", "no front matter: Cursor treats it as a Manual rule", 1),)
        )
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if end is None:
        return RuleInfo(findings=(Finding("error", "front matter has no closing `---` line", 1),))

    raw: dict[str, tuple[str, int, list[str]]] = {}
    current: str | None = None
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY_LINE.match(line)
        if match and not line[0].isspace():
            current = match.group(1)
            if current in raw:
                findings.append(Finding("warning", f"key `{current}` appears twice", number))
            raw[current] = (_strip_comment(match.group(2) or ""), number, [])
        elif current is not None:
            raw[current][2].append(line.strip())
        else:
            findings.append(
                Finding("warning", f"line is not `key: value`: {line.strip()!r}", number)
            )

    for key, (_, number, _) in raw.items():
        if key not in KNOWN_KEYS:
            findings.append(
                Finding(
                    "warning", f"unknown key `{key}` (Cursor reads {', '.join(KNOWN_KEYS)})", number
                )
            )

    description = ""
    if "description" in raw:
        value, number, extra = raw["description"]
        description = _unquote(value)[0].strip()
        if value.strip() in ("|", ">", "|-", ">-", "|+", ">+") or extra:
            findings.append(
                Finding("warning", "description spans several lines; Cursor reads one line", number)
            )
            description = " ".join([description, *extra]).strip(" |>-+")

    globs: list[str] = []
    if "globs" in raw:
        value, number, extra = raw["globs"]
        if value:
            globs = _split_globs(value)
        for item in extra:
            item = item[1:].strip() if item.startswith("-") else item
            globs.extend(_split_globs(item))
        if any("{" in g for g in globs):
            findings.append(
                Finding(
                    "warning", "brace glob `{…}`: write the patterns out, comma-separated", number
                )
            )

    always_apply = False
    if "alwaysApply" in raw:
        value, number, _ = raw["alwaysApply"]
        bare, quoted = _unquote(value)
        if not quoted and bare in _TRUE:
            always_apply = True
        elif not quoted and (bare in _FALSE or bare == ""):
            always_apply = False
        else:
            always_apply = bare.lower() == "true"
            findings.append(
                Finding(
                    "warning",
                    f"alwaysApply is {value!r}, not a boolean: write true or false",
                    number,
                )
            )
        if always_apply and any(g in UNIVERSAL_GLOBS for g in globs):
            findings.append(
                Finding(
                    "warning",
                    "universal glob beside `alwaysApply: true` is redundant: drop the glob",
                    raw["globs"][1],
                )
            )

    return RuleInfo(
        description=description,
        globs=tuple(globs),
        always_apply=always_apply,
        has_front_matter=True,
        findings=tuple(findings),
    )
