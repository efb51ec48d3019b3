"""What rulesync prints: standard output and error pass every write through
`names.printable`, so text from a repository or a library (a tier's description, a commit
subject, a rule's name, a symlink's target) cannot move the cursor, recolour the terminal or
hide a word, and every URL is shown without its credentials (`redact.scrub`)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rulesync.names import printable
from rulesync.redact import scrub


class PrintableStream(io.TextIOBase):
    """A text stream that writes `printable(scrub(text))` to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(scrub(text)))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding


def unfiltered(stream: TextIO) -> TextIO:
    """The stream a PrintableStream wraps (for a writer that escapes on its own)."""
    return stream.stream if isinstance(stream, PrintableStream) else stream


@contextmanager
def printable_output() -> Iterator[None]:
    """Route `sys.stdout` and `sys.stderr` through PrintableStream while the block runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout = PrintableStream(saved[0])
    sys.stderr = PrintableStream(saved[1])
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved
