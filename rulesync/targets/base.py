"""What every target shares: the rule it is given, what it renders, and the target itself.

A target is pure: it turns the resolved tier (a sequence of `SourceRule`) into `Rendered`
bytes and never touches the disk. Writing, conflicts and commits belong to the engine.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from rulesync.errors import InvalidInput
from rulesync.globs import untranslatable
from rulesync.mdc import RuleInfo, RuleType, read_rule

RULE_SUFFIX = ".mdc"
_DELIMITER = b"---"
_BOM = b"\xef\xbb\xbf"
# Characters json.dumps leaves raw that a YAML double-quoted scalar must carry as escapes:
# PyYAML refuses the non-printable ones and folds NEL and the Unicode line breaks.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_MDC_LINK = re.compile(r"\]\(mdc:([^)\s]+)\)")
_BARE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Plain words YAML 1.1 reads as booleans or null rather than as text.
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


class How(StrEnum):
    """Why a rule is, or is not, in the model's context for a file."""

    ALWAYS = "always"
    GLOB = "glob"
    REQUESTABLE = "requestable"
    MANUAL = "manual"
    NOT_ATTACHED = "not attached"
    NOT_WRITTEN = "not written"
    # Verdicts only the reading model gives (rulesync.reading): the rule is in a file the
    # assistant reads but another file hides that one, or it falls past the tool's size cut,
    # or the assistant gets its full text from two files, or no file it reads holds it, or
    # its globs cannot be said in the assistant's dialect.
    SHADOWED = "shadowed"
    TRUNCATED = "truncated"
    TWICE = "loaded twice"
    LOST = "lost"
    UNTRANSLATABLE = "untranslatable"


# How a target brings a rule of each Cursor rule type to its assistant: ALWAYS (in every
# request), GLOB (when one of the rule's globs matches the file), REQUESTABLE (the model may
# read it), MANUAL (only when asked for by name) or NOT_WRITTEN.
Attach = Mapping[RuleType, How]
CURSOR_ATTACH: Attach = {
    RuleType.ALWAYS: How.ALWAYS,
    RuleType.AUTO_ATTACHED: How.GLOB,
    RuleType.AGENT_REQUESTED: How.REQUESTABLE,
    RuleType.MANUAL: How.MANUAL,
}


def split_front_matter(data: bytes) -> tuple[bytes, bytes]:
    """Split a rule into its front matter (both `---` lines included) and its body.

    A file without front matter, or whose front matter never closes, is all body, as Cursor
    reads it. A UTF-8 byte-order mark stays with the front matter.
    """
    start = len(_BOM) if data.startswith(_BOM) else 0
    first_end = data.find(b"\n", start)
    first = data[start:] if first_end < 0 else data[start:first_end]
    if first.rstrip() != _DELIMITER or first_end < 0:
        return b"", data
    position = first_end + 1
    while position < len(data):
        line_end = data.find(b"\n", position)
        stop = len(data) if line_end < 0 else line_end + 1
        if data[position:stop].rstrip() == _DELIMITER:
            return data[:stop], data[stop:]
        position = stop
    return b"", data


# A rule's front matter, read once per distinct bytes: every target asks for it, and the
# reading model asks again of the very bytes the cursor target writes.
rule_info = lru_cache(maxsize=16384)(read_rule)


class SourceRule:
    """One rule of the resolved tier: its path inside the tier and its exact `.mdc` bytes.

    A plain class, not a NamedTuple: every target reads `info`, `body` and `text`, and where
    each target writes it (`Target.where`), each worked out once and kept here."""

    __slots__ = ("_body", "_info", "_text", "_utf8", "data", "path", "placed", "stem")

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.data = data
        # The path without its `.mdc` suffix: `frontend/react` for `frontend/react.mdc`.
        self.stem = path[: -len(RULE_SUFFIX)] if path.endswith(RULE_SUFFIX) else path
        self._info: RuleInfo | None = None
        self._body: bytes | None = None
        self._text: str | None = None
        self._utf8: bool | None = None
        # A target's `locate` → the path it gives this rule.
        self.placed: dict[Locator, str | None] = {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceRule):
            return NotImplemented
        return (self.path, self.data) == (other.path, other.data)

    def __hash__(self) -> int:
        return hash((self.path, self.data))

    @property
    def info(self) -> RuleInfo:
        """The rule's front matter as Cursor reads it (description, globs, rule type)."""
        if self._info is None:
            self._info = rule_info(self.data)
        return self._info

    @property
    def name(self) -> str:
        """The rule's file name without folders or suffix: `react` for `frontend/react.mdc`."""
        return self.stem.rsplit("/", 1)[-1]

    @property
    def body(self) -> bytes:
        """The bytes after the closing `---` (the whole file when it has no front matter)."""
        if self._body is None:
            self._body = split_front_matter(self.data)[1]
        return self._body

    @property
    def text(self) -> str:
        """The body as text for other formats: leading blank lines and trailing space dropped,
        `[x](mdc:path)` links made plain (`[x](/path)`), one final newline (empty when the body
        is)."""
        if self._text is None:
            text = self.body.decode("utf-8", errors="replace").replace("\r\n", "\n")
            # Cursor's `mdc:` links name a project file; other tools read a plain link.
            text = _MDC_LINK.sub(r"](/\1)", text)
            text = text.lstrip("\n").rstrip()
            self._text = text + "\n" if text else ""
        return self._text

    @property
    def is_utf8(self) -> bool:
        if self._utf8 is None:
            try:
                self.data.decode("utf-8")
                self._utf8 = True
            except UnicodeDecodeError:
                self._utf8 = False
        return self._utf8


class Rendered(NamedTuple):
    """What one target makes of a tier.

    `files`: project-relative POSIX path → bytes of a file the target owns whole.
    `blocks`: project-relative path of a file the user may also own → the content of
    rulesync's one marked block in it (without the marker lines; see `blocks.splice`).
    `warnings`: one line each, e.g. a tool's size limit exceeded.
    """

    files: Mapping[str, bytes] = MappingProxyType({})
    blocks: Mapping[str, bytes] = MappingProxyType({})
    warnings: tuple[str, ...] = ()


# Where a rule's full text can be read in the project (a project-relative path), or None.
Locator = Callable[[SourceRule], str | None]
Renderer = Callable[[Sequence[SourceRule], Locator], Rendered]


def nowhere(rule: SourceRule) -> str | None:
    """The locator of a target that keeps no rule's full text in a file of its own."""
    return None


class Source(NamedTuple):
    """One kind of file an assistant reads (see `rulesync.reading` for each `kind`): `path`
    is a file, or a folder ending in `/`; `limit` the size past which the tool cuts
    (`unit` "bytes" or "chars"; `per` "file", or "all" for the files of this source
    together); `nested` that copies in the folders on the way to the file worked on count
    too; `names` the files of a `first-of` source, in the tool's order."""

    kind: str
    path: str = ""
    limit: int = 0
    unit: str = "bytes"
    per: str = "file"
    nested: bool = False
    names: tuple[str, ...] = ()


class Fact(NamedTuple):
    """One documented fact of an assistant's reading, where it is written, and when it was
    last checked (or `assumed` when the documentation is silent and rulesync assumes)."""

    text: str
    url: str
    checked: str = "2026-12-07"
    assumed: bool = False


class Reader(NamedTuple):
    """How one assistant reads a project: its files in the order it reads them (its own and
    other tools'), the glob dialect of its patterns, and the facts this rests on."""

    assistant: str
    sources: tuple[Source, ...]
    dialect: str = "gitignore"
    facts: tuple[Fact, ...] = ()


class Target(NamedTuple):
    """One assistant's output: its name, what it may write (`owns`: a file path, or a folder
    ending in `/` whose files at any depth it may write), how it renders a tier, where it
    keeps each rule's full text (`locate`), how its assistant reads a project (`reads`: the
    reading model, `rulesync.reading`), and whether it leaves out the Always rules its
    assistant already reads in other targets' files (`drops_loaded`), and the `suffix` of the
    files it writes in its folders."""

    name: str
    owns: tuple[str, ...]
    render_rules: Renderer
    locate: Locator = nowhere
    reads: Reader | None = None
    # Leaves out an Always rule its assistant already loads from another enabled target's
    # file (AGENTS.md): planned together, each rule reaches the assistant once.
    drops_loaded: bool = False
    # The ending of every file it writes in an owned folder: with the folder, the shape of
    # name it owns (a manifest naming `.cursor/rules/HEAD` names no target's file).
    suffix: str = ""

    @property
    def folders(self) -> tuple[str, ...]:
        """The folders it writes into, for watching (`""` is the project root): each owned
        folder, and the folder of each owned file."""
        return tuple(
            dict.fromkeys(
                o.removesuffix("/") if o.endswith("/") else o.rpartition("/")[0] for o in self.owns
            )
        )

    def where(self, rule: SourceRule) -> str | None:
        """`locate(rule)`, worked out once per rule: planning several targets together asks
        it of every target for every rule more than once."""
        placed = rule.placed
        try:
            return placed[self.locate]
        except KeyError:
            path = placed[self.locate] = self.locate(rule)
            return path

    def claims(self, path: str) -> bool:
        """True when `path` (project-relative POSIX) is one this target may write: the only
        paths a manifest may name for it, so a crafted manifest cannot reach other files."""
        return any(
            path.startswith(o) and path.endswith(self.suffix) and len(path) > len(o + self.suffix)
            if o.endswith("/")
            else path == o
            for o in self.owns
        )

    def render(self, rules: Sequence[SourceRule], full_text_at: Locator = nowhere) -> Rendered:
        """Render the tier; `full_text_at` says where another enabled target keeps a rule's
        full text, for targets that only point at it (AGENTS.md)."""
        return self.render_rules(rules, full_text_at)


def yaml_quote(text: str) -> str:
    """`text` as a YAML double-quoted scalar that every YAML parser reads back exactly."""
    from json.encoder import encode_basestring  # only a target with front matter needs it

    quoted = encode_basestring(text)  # json.dumps(text, ensure_ascii=False), without its setup
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


@lru_cache(maxsize=4096)
def yaml_value(text: str) -> str:
    """A keyword such as `always_on` as is (tools that read front matter line by line see
    it unchanged); anything else, globs and descriptions included, double-quoted."""
    if _BARE_WORD.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return yaml_quote(text)


def front_matter(entries: Sequence[tuple[str, str | bool | Sequence[str]]]) -> str:
    """YAML front matter (a list value becomes a block list, a bool a bare `true`/`false`)
    that a strict YAML parser reads back exactly: globs such as `**/*.py` or
    `docs/a: b/*.md` are quoted."""
    lines = ["---"]
    for key, value in entries:
        if isinstance(value, bool):
            lines.append(f"{key}: {'true' if value else 'false'}")
        elif isinstance(value, str):
            lines.append(f"{key}: {yaml_value(value)}")
        else:
            lines.append(f"{key}:")
            lines.extend(f"  - {yaml_value(item)}" for item in value)
    lines.append("---")
    return "\n".join(lines) + "\n"


def flatten(path: str) -> str:
    """A nested rule's file name for a tool that reads one folder level:
    `frontend/react` → `frontend__react`."""
    return path.replace("/", "__")


def unique_paths(pairs: Sequence[tuple[str, SourceRule]], target: str) -> None:
    """Refuse two rules that one target would write to the same path."""
    seen: dict[str, str] = {}
    for path, rule in pairs:
        if path in seen:
            raise InvalidInput(
                f"rules `{seen[path]}` and `{rule.path}` both become {path} for target "
                f"`{target}`; rename one of them in the library"
            )
        seen[path] = rule.path


def rule_files(
    rules: Sequence[SourceRule],
    locate: Locator,
    text_of: Callable[[SourceRule], str],
    *,
    skip: frozenset[str] = frozenset(),
) -> dict[str, bytes]:
    """One file per rule at the path `locate` gives it, holding `text_of(rule)`; none for a
    rule it places nowhere or at a path in `skip` (a shared file written as a block)."""
    files: dict[str, bytes] = {}
    for rule in rules:
        path = locate(rule)
        if path is not None and path not in skip:
            files[path] = text_of(rule).encode()
    return files


def encoding_warnings(rules: Sequence[SourceRule], target: str) -> list[str]:
    """One warning per rule that is not UTF-8: its front matter cannot be read, so it is a
    Manual rule, and its text has replacement characters for the bad bytes."""
    return [
        f"{rule.path}: not UTF-8; `{target}` takes it as a Manual rule, bad bytes replaced"
        for rule in rules
        if not rule.is_utf8
    ]


def glob_warnings(rules: Sequence[SourceRule], target: str) -> list[str]:
    """One warning per rule with a glob the rooted dialect cannot say (left out)."""
    return [
        f"{rule.path}: glob {', '.join(f'`{g}`' for g in bad)} cannot be said in `{target}`'s "
        "glob dialect and is left out (untranslatable)"
        for rule in rules
        if rule.info.rule_type is RuleType.AUTO_ATTACHED
        for bad in [untranslatable(rule.info.globs)]
        if bad
    ]
