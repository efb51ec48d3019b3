"""Cursor `.mdc` rule files: a tolerant front-matter reader, rule types and lint findings.

Front matter is not strict YAML (`globs: **/*.ts` is an alias to a YAML parser), so it is read
line by line here, the way Cursor reads it: quote characters stay part of a value, `globs` is
one comma-separated line, and `alwaysApply` is Always only when it is the bare word `true`.
Rule files are never re-serialised: rulesync copies their bytes.
"""

import re
from enum import StrEnum
from typing import NamedTuple

from rulesync.globs import MAX_BRACE_PATTERNS, brace_count
from rulesync.hidden import findings_text

KNOWN_KEYS = ("description", "globs", "alwaysApply")
UNIVERSAL_GLOBS = frozenset({"*", "**", "**/*", "**/*.*", "./**/*", "/**/*"})
_KEY_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*:(?:\s+(.*)|\s*)$")
# A line that looks meant to close the front matter but is not `---`: YAML's document end
# `...`, or a longer rule of dashes. Cursor does not close on either.
_NEAR_CLOSING = re.compile(r"^(?:-{4,}|\.{3,})\s*$")
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


class RuleType(StrEnum):
    """How Cursor attaches a rule, derived from its front matter."""

    ALWAYS = "Always"
    AUTO_ATTACHED = "Auto Attached"
    AGENT_REQUESTED = "Agent Requested"
    MANUAL = "Manual"


class Finding(NamedTuple):
    """One lint result: `level` is "error" or "warning"; `line` is 0 for the file as a whole."""

    level: str
    message: str
    line: int = 0


class RuleInfo(NamedTuple):
    """What the reader understood of one rule file.

    `globs` are the patterns with any quoting removed (what the author meant, for targets that
    parse YAML); `cursor_globs` are the patterns as Cursor's reader keeps them, quotes and all.
    """

    description: str = ""
    globs: tuple[str, ...] = ()
    always_apply: bool = False
    has_front_matter: bool = False
    findings: tuple[Finding, ...] = ()
    cursor_globs: tuple[str, ...] = ()
    body: str = ""

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


def _split_commas(value: str) -> list[str]:
    """Split on commas outside `{…}`; each part stripped, empty parts dropped."""
    if "{" not in value:
        return [p.strip() for p in value.split(",") if p.strip()]
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
    return [p.strip() for p in parts if p.strip()]


def _is_flow_list(value: str) -> bool:
    value = value.strip()
    return value.startswith("[") and value.endswith("]")


def _split_globs(value: str) -> list[str]:
    value = value.strip()
    if _is_flow_list(value):
        value = value[1:-1]
    return [g for g in (_unquote(p)[0].strip() for p in _split_commas(value)) if g]


class _Key:
    __slots__ = ("extra", "line", "value")

    def __init__(self, value: str, line: int) -> None:
        self.value = value
        self.line = line
        self.extra: list[str] = []


def _front_matter_end(lines: list[str], findings: list[Finding]) -> int | None:
    """The index of the closing `---`, reporting a near miss (`----`, `...`) before it."""
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    near = next(
        (
            i
            for i in range(1, end if end is not None else len(lines))
            if _NEAR_CLOSING.match(lines[i])
        ),
        None,
    )
    if near is not None:
        seen = lines[near].strip()
        if end is None:
            findings.append(
                Finding(
                    "error",
                    f"`{seen}` does not close the front matter (only exactly `---` does), "
                    "so it never closes: write `---`",
                    near + 1,
                )
            )
        else:
            findings.append(
                Finding(
                    "error",
                    f"`{seen}` does not close the front matter (only exactly `---` does): "
                    f"Cursor reads on to line {end + 1}; write `---`",
                    near + 1,
                )
            )
    elif end is None:
        findings.append(Finding("error", "front matter has no closing `---` line", 1))
    return end


def _read_keys(lines: list[str], findings: list[Finding]) -> dict[str, _Key]:
    """`key: value` lines (numbered from 2), the last of a repeated key winning as in Cursor."""
    raw: dict[str, _Key] = {}
    current: str | None = None
    for number, line in enumerate(lines, start=2):
        if not line.strip() or line.lstrip().startswith("#") or _NEAR_CLOSING.match(line):
            continue
        match = _KEY_LINE.match(line.strip())
        if line[0].isspace() and match and match.group(1) in KNOWN_KEYS:
            # An indented key is a continuation of the value above, not a key of its own.
            how = "tab-indented" if line[0] == "\t" else "indented"
            into = f"folded into `{current}`" if current else "not read"
            findings.append(
                Finding(
                    "warning",
                    f"{how} `{match.group(1)}` is {into}, not read as a key: "
                    "start the line at column 1",
                    number,
                )
            )
            continue
        if match and not line[0].isspace():
            key = match.group(1)
            if key in raw:
                findings.append(
                    Finding(
                        "warning",
                        f"key `{key}` appears twice (lines {raw[key].line} and {number}): "
                        f"Cursor reads the last one, line {number}; remove the other",
                        number,
                    )
                )
            raw[key] = _Key(_strip_comment(match.group(2) or ""), number)
            current = key
        elif current is not None:
            raw[current].extra.append(line.strip())
        else:
            findings.append(
                Finding("warning", f"line is not `key: value`: {line.strip()!r}", number)
            )
    for key, entry in raw.items():
        if key not in KNOWN_KEYS:
            findings.append(
                Finding(
                    "warning",
                    f"unknown key `{key}` (Cursor reads {', '.join(KNOWN_KEYS)})",
                    entry.line,
                )
            )
    return raw


def _read_description(entry: _Key, findings: list[Finding]) -> str:
    description = _unquote(entry.value)[0].strip()
    if entry.value.strip() in ("|", ">", "|-", ">-", "|+", ">+") or entry.extra:
        findings.append(
            Finding("warning", "description spans several lines; Cursor reads one line", entry.line)
        )
        description = " ".join([description, *entry.extra]).strip(" |>-+")
    return description


def _read_globs(entry: _Key, findings: list[Finding]) -> tuple[list[str], list[str]]:
    """(the patterns meant, the patterns Cursor's line reader sees)."""
    value = entry.value.strip()
    items = [i[1:].strip() if i.startswith("-") else i for i in entry.extra]
    if _is_flow_list(value) or (not value and items):
        shown = "[…]" if value else "a block list (`- …`)"
        findings.append(
            Finding(
                "warning",
                f"globs written as a YAML list {shown}: readers disagree on lists (Cursor's "
                "own form is one line); write `globs: a, b`, unquoted",
                entry.line,
            )
        )
        globs = _split_globs(value) if value else []
        for item in items:
            globs.extend(_split_globs(item))
        # The list form is read as its items: the most generous reading, and the one tools
        # that write lists intend.
        return globs, list(globs)
    parts = _split_commas(value)
    quoted = [p for p in parts if p[:1] in ("'", '"')]
    if quoted:
        findings.append(
            Finding(
                "warning",
                f"quoted glob {quoted[0]}: Cursor keeps the quotes as part of the pattern, "
                "so it matches nothing; remove the quotes",
                entry.line,
            )
        )
    return _split_globs(value), parts


def _read_always_apply(entry: _Key, findings: list[Finding]) -> bool:
    bare, quoted = _unquote(entry.value)
    if not quoted and bare in _TRUE:
        return True
    if not quoted and (bare in _FALSE or bare == ""):
        return False
    # Cursor only treats the bare word `true` as Always: `"true"`, `yes` and `1` are not.
    findings.append(
        Finding(
            "warning",
            f"alwaysApply is {entry.value.strip()}, not a boolean: Cursor does not treat the "
            "rule as Always; write true or false",
            entry.line,
        )
    )
    return False


def _check_scope(
    always_apply: bool, cursor_globs: list[str], raw: dict[str, _Key], findings: list[Finding]
) -> None:
    """Globs that contradict or duplicate alwaysApply."""
    if not cursor_globs:
        return
    line = raw["globs"].line
    universal = [g for g in cursor_globs if g in UNIVERSAL_GLOBS]
    if always_apply and universal:
        findings.append(
            Finding(
                "warning",
                "universal glob beside `alwaysApply: true` is redundant: drop the glob",
                line,
            )
        )
    elif always_apply:
        findings.append(
            Finding(
                "warning",
                "globs are ignored beside `alwaysApply: true` (the rule loads on every "
                "request): drop the globs, or set alwaysApply: false to scope it",
                line,
            )
        )
    elif universal:
        findings.append(
            Finding(
                "warning",
                f"glob `{universal[0]}` attaches the rule to every file, an Always rule in "
                "disguise: write `alwaysApply: true`, or narrow the globs",
                line,
            )
        )


def _check_body(body: str, line: int, findings: list[Finding]) -> None:
    if not body.strip():
        findings.append(
            Finding("warning", "empty body: the rule gives the model nothing; write it", line)
        )


def read_rule(data: bytes) -> RuleInfo:
    """Read a rule file's front matter tolerantly; never raises on any input."""
    findings: list[Finding] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RuleInfo(findings=(Finding("error", f"not UTF-8 (byte {exc.start})"),))
    findings += [Finding("error", m, line) for line, m in findings_text(text)]
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    if not lines or lines[0].rstrip() != "---":
        findings.append(Finding("warning", "no front matter: Cursor treats it as a Manual rule", 1))
        _check_body(text, 1, findings)
        return RuleInfo(findings=_in_line_order(findings), body=text)
    end = _front_matter_end(lines, findings)
    if end is None:
        return RuleInfo(findings=_in_line_order(findings))

    raw = _read_keys(lines[1:end], findings)
    description = _read_description(raw["description"], findings) if "description" in raw else ""
    globs: list[str] = []
    cursor_globs: list[str] = []
    if "globs" in raw:
        globs, cursor_globs = _read_globs(raw["globs"], findings)
        wide = next((g for g in globs if brace_count(g) > MAX_BRACE_PATTERNS), None)
        if wide is not None:
            findings.append(
                Finding(
                    "error",
                    f"brace glob `{wide[:80]}` writes out more than {MAX_BRACE_PATTERNS} "
                    "patterns: apply refuses it",
                    raw["globs"].line,
                )
            )
        elif any("{" in g for g in globs):
            findings.append(
                Finding(
                    "warning",
                    "brace glob `{…}`: write the patterns out, comma-separated",
                    raw["globs"].line,
                )
            )
    always_apply = "alwaysApply" in raw and _read_always_apply(raw["alwaysApply"], findings)
    _check_scope(always_apply, cursor_globs, raw, findings)
    body = "\n".join(lines[end + 1 :])
    _check_body(body, end + 1, findings)
    return RuleInfo(
        description=description,
        globs=tuple(globs),
        always_apply=always_apply,
        has_front_matter=True,
        findings=_in_line_order(findings),
        cursor_globs=tuple(cursor_globs),
        body=body,
    )


def _in_line_order(findings: list[Finding]) -> tuple[Finding, ...]:
    # A stable sort: findings on one line keep the order they were found in.
    return tuple(sorted(findings, key=lambda f: f.line))
