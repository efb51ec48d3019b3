"""rulesync's one marked block inside a file the user may also own (AGENTS.md,
.github/copilot-instructions.md): find it, read it, replace it, remove it.

Every byte outside the block is the user's and is kept. A block is appended to a file that
has none after one blank line; removing it takes that blank line back, so appending then
removing gives the file back as it was (a last line without a newline gains one, the only
byte rulesync ever adds outside the block). In AGENTS.md the block goes first instead,
followed by one blank line: Codex cuts AGENTS.md at 32 KiB from the end, and the tier's
Always rules, first in the block, must be what it keeps. A file rulesync created for the
block alone disappears with it (`splice` returns None).
"""

from __future__ import annotations

from collections.abc import Iterator

from rulesync.errors import InvalidInput

BEGIN = b"<!-- rulesync:begin (managed by rulesync; edits here are replaced) -->"
END = b"<!-- rulesync:end -->"
_BEGIN_PREFIX = b"<!-- rulesync:begin"
_MARKER_TEXT = "<!-- rulesync:"
# Files whose block goes before the user's text (tools cut them from the end).
FIRST = frozenset({"AGENTS.md"})


def _is_begin(line: bytes) -> bool:
    stripped = line.strip()
    return stripped.startswith(_BEGIN_PREFIX) and stripped.endswith(b"-->")


def _is_end(line: bytes) -> bool:
    return line.strip() == END


def _lines(text: bytes) -> Iterator[tuple[int, bytes]]:
    """Each line that holds rulesync's marker text, with its offset, line ending included
    (the lines `bytes.splitlines` gives). Only those lines are cut out: a file of millions of
    short lines costs no more memory than its bytes."""
    marker = _MARKER_TEXT.encode()
    end = 0  # every search starts at the last line found: linear in the file's length
    at = text.find(marker)
    while at >= 0:
        start = max(end, max(text.rfind(b"\n", end, at), text.rfind(b"\r", end, at)) + 1)
        newline = text.find(b"\n", at)
        stop = newline if newline >= 0 else len(text)
        ret = text.find(b"\r", at, stop)
        if ret >= 0:
            end = ret + 2 if text[ret + 1 : ret + 2] == b"\n" else ret + 1
        else:
            end = stop + 1 if newline >= 0 else len(text)
        yield start, text[start:end]
        at = text.find(marker, end)


def _span(text: bytes, where: str) -> tuple[int, int, int, int] | None:
    """(block start, content start, content end, block end) or None; refuses a broken block."""
    begin: tuple[int, int] | None = None
    span: tuple[int, int, int, int] | None = None
    for offset, line in _lines(text):
        if _is_begin(line):
            if begin is not None or span is not None:
                raise InvalidInput(
                    f"{where}: more than one rulesync block; delete all but one "
                    "(or the whole block: rulesync writes it again)"
                )
            begin = (offset, offset + len(line))
        elif _is_end(line):
            if begin is None:
                raise InvalidInput(
                    f"{where}: a rulesync end marker without its begin marker; delete the line"
                )
            span = (begin[0], begin[1], offset, offset + len(line))
            begin = None
    if begin is not None:
        raise InvalidInput(
            f"{where}: the rulesync block has no end marker; delete the block "
            "(rulesync writes it again)"
        )
    return span


def find_block(text: bytes, where: str = "file") -> tuple[int, int] | None:
    """The byte span of rulesync's block in `text` (marker lines included), or None;
    InvalidInput for two blocks, a lone end marker or an unterminated block."""
    span = _span(text, where)
    return None if span is None else (span[0], span[3])


def extract(existing: bytes | None, where: str = "file") -> bytes | None:
    """The content between the marker lines, or None when there is no file or no block."""
    if existing is None:
        return None
    span = _span(existing, where)
    return None if span is None else existing[span[1] : span[2]]


def escape_markers(text: str) -> str:
    """Text with anything that could read as a marker line defused, for content taken from
    rules (a rule quoting the markers must not end the block early)."""
    return text.replace(_MARKER_TEXT, "<!-- rulesync (quoted):")


def wrap(content: bytes) -> bytes:
    """The whole block: marker lines around `content` (given a final newline if it lacks one)."""
    if any(_is_begin(line) or _is_end(line) for _, line in _lines(content)):
        raise ValueError("block content holds a rulesync marker line; escape_markers() it")
    if content and not content.endswith(b"\n"):
        content += b"\n"
    return BEGIN + b"\n" + content + END + b"\n"


def splice(existing: bytes | None, content: bytes | None, where: str = "file") -> bytes | None:
    """The file with rulesync's block set to `content` (None: removed), every byte outside the
    block kept. `existing` None means the file does not exist; the result None means it
    should not (it held rulesync's block and nothing else)."""
    text = existing if existing is not None else b""
    span = find_block(text, where) if existing is not None else None
    if content is not None:
        block = wrap(content)
        if span is not None:
            return text[: span[0]] + block + text[span[1] :]
        if existing is None:
            return block
        if where in FIRST:
            # The block, one blank line, the user's text (an empty file keeps the blank line,
            # which tells removal that the file was the user's).
            return block + b"\n" + text
        # One blank line between the user's text and the block; an empty file gets the blank
        # line too, which tells removal that the (empty) file was the user's.
        separator = b"\n" if text.endswith(b"\n") or not text else b"\n\n"
        return text + separator + block
    if span is None:
        return existing
    before, after = text[: span[0]], text[span[1] :]
    if not before and after.startswith(b"\n") and where in FIRST:
        return after[1:]  # the blank line the insertion added
    if not after and (before.endswith(b"\n\n") or before == b"\n"):
        before = before[:-1]  # the blank line the append added
    elif not before and not after:
        return None
    return before + after
