"""Every relative link in the README, CONTRIBUTING.md and docs/ leads somewhere: to a file or
folder of this repository and, when it names an anchor, to a heading of that file (GitHub's
anchors). Links to other sites are not followed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.repos import REPO_ROOT

FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", flags=re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", flags=re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", flags=re.MULTILINE)


def pages() -> list[Path]:
    found = [REPO_ROOT / "README.md", REPO_ROOT / "CONTRIBUTING.md"]
    found += sorted((REPO_ROOT / "docs").rglob("*.md"))
    return [p for p in found if p.is_file()]


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    return LINK.findall(prose(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup and punctuation dropped, lower case, spaces as `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a page's headings, the second of two equal ones ending in `-1`."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken(page: Path, text: str | None = None) -> list[str]:
    """The relative links of `page` (or of `text`, read as if it were at `page`) that lead
    nowhere, each with why."""
    if text is None:
        text = page.read_text(encoding="utf-8")
    problems = []
    for target in links(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: another site
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page.resolve()
        inside = dest.is_relative_to(REPO_ROOT)
        if not inside or not dest.exists():
            problems.append(f"{target}: no such file in the repository")
        elif anchor:
            headings = anchors(text if dest == page.resolve() else dest.read_text("utf-8"))
            if dest.suffix != ".md" or anchor not in headings:
                problems.append(f"{target}: no heading with the anchor #{anchor}")
    return problems


def test_the_documentation_pages_are_found() -> None:
    names = {p.relative_to(REPO_ROOT).as_posix() for p in pages()}
    assert {"README.md", "CONTRIBUTING.md", "docs/index.md", "docs/getting-started.md"} <= names


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken(page) == []


def test_a_broken_link_or_anchor_is_reported() -> None:
    """The checker itself: it finds what it is there to find, and no more."""
    text = (
        "# A page\n\n## The user config: `config.yaml`\n\n"
        "[fine](#the-user-config-configyaml) [gone](#nowhere) [file](getting-started.md)\n"
        "[missing](no-such-page.md) [outside](../../etc/passwd) [site](https://example.com/x)\n"
        "[being written](how-to/promote-from-evidence.md)\n"
        "```\n[in a code block](nowhere.md)\n```\n`[in a code span](nowhere.md)`\n"
    )
    assert anchors(text) == {"a-page", "the-user-config-configyaml"}
    assert links(text) == [
        "#the-user-config-configyaml", "#nowhere", "getting-started.md", "no-such-page.md",
        "../../etc/passwd", "https://example.com/x", "how-to/promote-from-evidence.md",
    ]  # fmt: skip
    # Read as if it were docs/index.md, beside which getting-started.md exists.
    assert broken(REPO_ROOT / "docs" / "index.md", text) == [
        "#nowhere: no heading with the anchor #nowhere",
        "no-such-page.md: no such file in the repository",
        "../../etc/passwd: no such file in the repository",
    ]
