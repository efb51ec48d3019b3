"""The fast YAML-subset reader: it takes the plain files rulesync reads, gives exactly what
PyYAML gives for them (data and lines), and declines everything else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulesync import yamlio
from rulesync.errors import InvalidInput
from rulesync.marker import MARKER, default_marker_text
from rulesync.registry import registry_path
from rulesync.yamlsubset import parse_simple
from support.repos import REPO_ROOT, rulesync

FILE = Path("settings.yaml")


def canonical(value: Any) -> Any:
    """A form of parsed data where equal means the same types too (`True` is not `1`, `1.0`
    is not `1`, `-0.0` is not `0.0`) and mapping order counts."""
    if isinstance(value, dict):
        return ("map", tuple((canonical(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(canonical(item) for item in value))
    return (type(value).__name__, repr(value))


def pyyaml(text: str) -> tuple[Any, dict[Any, int]]:
    parsed = yamlio.parse_with_pyyaml(text, FILE, "settings")
    return canonical(parsed.data), dict(parsed.lines)


def fast(text: str) -> tuple[Any, dict[Any, int]] | None:
    result = parse_simple(text)
    if result is None:
        return None
    data, lines = result
    return canonical(data), dict(lines)


def assert_same_or_declined(text: str) -> None:
    """Whatever the subset reader accepts, PyYAML reads the same; where PyYAML refuses, the
    subset reader has declined."""
    ours = fast(text)
    try:
        theirs = pyyaml(text)
    except InvalidInput:
        assert ours is None, f"accepted what PyYAML refuses: {text!r}"
        return
    if ours is not None:
        assert ours == theirs, f"differs from PyYAML on {text!r}"


# --- Documents inside the subset, written by a small emitter -------------------------------

BOOL_WORDS = [
    "true", "True", "TRUE", "false", "False", "FALSE",
    "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
]  # fmt: skip
NULL_WORDS = ["null", "Null", "NULL", "~"]
RESERVED = {*BOOL_WORDS, *NULL_WORDS}

keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True).filter(
    lambda k: k not in RESERVED
)
KOREAN = "가한국어설명규칙"
plain_strings = st.builds(
    lambda first, rest: (first + rest).rstrip(" "),
    st.sampled_from([*"abcxyzABCZ_/", *KOREAN]),
    st.text(alphabet=[*"abcXYZ019 .-_/()%$:#,[]'\"", *KOREAN], max_size=12),
).filter(lambda s: ": " not in s and " #" not in s and not s.endswith(":") and s not in RESERVED)
flow_strings = st.builds(
    lambda first, rest: (first + rest).rstrip(" "),
    st.sampled_from([*"abcxyzABCZ_/", *KOREAN]),
    st.text(alphabet=[*"abcXYZ019 .-_/()", *KOREAN], max_size=10),
).filter(lambda s: s not in RESERVED)
digit_strings = st.builds(
    lambda n, rest: f"{n}{rest}", st.integers(0, 99), st.sampled_from(["/7", "건", " 명", "%"])
)
quoted_texts = st.text(alphabet=[*"ab Z09:#-[]{},&*!|>'\"%@`", *KOREAN], max_size=10)


def scalars(flow: bool) -> st.SearchStrategy[str]:
    """YAML text of one scalar the subset takes (flow: fit inside `[...]`)."""
    return st.one_of(
        flow_strings if flow else plain_strings,
        digit_strings,
        st.integers(-(10**12), 10**12).map(str),
        st.builds(
            lambda i, f: f"{i}.{f}",
            st.integers(-999, 999),
            st.from_regex(r"[0-9]{1,4}", fullmatch=True),
        ),
        st.sampled_from(BOOL_WORDS + NULL_WORDS),
        quoted_texts.map(lambda s: "'" + s.replace("'", "''") + "'"),
        quoted_texts.map(lambda s: '"' + s.replace('"', "") + '"'),
    )


def flow_sequences() -> st.SearchStrategy[str]:
    """YAML text of a one-line flow sequence of scalars."""
    return st.lists(scalars(flow=True), max_size=4).map(lambda items: "[" + ", ".join(items) + "]")


# ("scalar", text) | ("none",) | ("flow", text) | ("map", [(key, node)]) | ("seq", [node])
Node = Any


def nodes() -> st.SearchStrategy[Node]:
    """Values inside the subset: scalars, flow sequences, empty values, and block mappings
    and sequences of them, nested."""
    leaf = st.one_of(
        scalars(flow=False).map(lambda s: ("scalar", s)),
        flow_sequences().map(lambda s: ("flow", s)),
        st.just(("none",)),
    )

    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        mapping = st.lists(
            st.tuples(keys, children), min_size=1, max_size=4, unique_by=lambda p: p[0]
        )
        return st.one_of(
            mapping.map(lambda pairs: ("map", pairs)),
            st.lists(
                st.one_of(leaf.filter(lambda n: n[0] != "none"), mapping.map(lambda p: ("map", p))),
                min_size=1,
                max_size=4,
            ).map(lambda items: ("seq", items)),
        )

    return st.recursive(leaf, extend, max_leaves=12)


documents = st.lists(st.tuples(keys, nodes()), min_size=1, max_size=5, unique_by=lambda p: p[0])


class Emitter:
    """Writes a node tree as block YAML, with the choices the subset allows drawn at random."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.width = draw(st.sampled_from([2, 4]))
        self.out: list[str] = []

    def noise(self, indent: int) -> None:
        for _ in range(self.draw(st.integers(0, 1))):
            pad = " " * self.draw(st.integers(0, indent + 2))
            self.out.append(self.draw(st.sampled_from(["", pad, f"{pad}# 설명 note: x"])))

    def tail(self) -> str:
        return self.draw(st.sampled_from(["", "", "  # why", " # 주석: [x]"]))

    def mapping(self, pairs: list[tuple[str, Node]], indent: int, first_prefix: str = "") -> None:
        for position, (key, node) in enumerate(pairs):
            self.noise(indent)
            lead = first_prefix if position == 0 and first_prefix else " " * indent
            self.value(f"{lead}{key}:", node, indent)

    def value(self, head: str, node: Node, indent: int) -> None:
        kind = node[0]
        if kind in ("scalar", "flow"):
            self.out.append(f"{head} {node[1]}{self.tail()}")
        elif kind == "none":
            self.out.append(f"{head}{self.tail()}")
        elif kind == "map":
            self.out.append(f"{head}{self.tail()}")
            self.mapping(node[1], indent + self.width)
        else:
            self.out.append(f"{head}{self.tail()}")
            # A mapping's sequence may stand at the key's own indent.
            inner = indent if self.draw(st.booleans()) else indent + self.width
            self.sequence(node[1], inner)

    def sequence(self, items: list[Node], indent: int) -> None:
        for item in items:
            self.noise(indent)
            dash = " " * indent + "-" + " " * self.draw(st.sampled_from([1, 1, 3]))
            if item[0] == "map":
                self.mapping(item[1], len(dash), first_prefix=dash)
            else:
                self.out.append(f"{dash}{item[1]}{self.tail()}")


@st.composite
def simple_documents(draw: st.DrawFn) -> str:
    """A document inside the subset, with comments, blank lines and layout drawn at random."""
    emitter = Emitter(draw)
    emitter.noise(0)
    emitter.mapping(draw(documents), 0)
    emitter.noise(0)
    return "\n".join(emitter.out) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(simple_documents())
def test_documents_in_the_subset_are_read_exactly_as_pyyaml_reads_them(text: str) -> None:
    ours = fast(text)
    assert ours is not None, f"declined a document in the subset:\n{text}"
    assert ours == pyyaml(text)


# --- Any text: the subset reader never disagrees with PyYAML -------------------------------

ALPHABET = [*"abyn10_.:- #[],'\"{}>|&*!?%~\t", "\n", "\n", "  ", "가", "\u2028"]


def yamlish(max_size: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(ALPHABET), max_size=max_size).map("".join)


@settings(max_examples=1000, deadline=None)
@given(yamlish(30))
def test_short_yaml_like_texts_are_declined_or_read_as_pyyaml_reads_them(text: str) -> None:
    assert_same_or_declined(text)


@settings(max_examples=1000, deadline=None)
@given(yamlish(8), yamlish(8))
def test_key_value_lines_with_odd_values_are_declined_or_read_as_pyyaml_reads_them(
    value: str, item: str
) -> None:
    assert_same_or_declined(f"key: {value}\nother:\n  - {item}\n")


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    text = draw(simple_documents())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(ALPHABET))
        if edit == "insert":
            text = text[:at] + piece + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + piece + text[at + 1 :]
    return text


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_documents_are_declined_or_read_as_pyyaml_reads_them(text: str) -> None:
    assert_same_or_declined(text)


@pytest.mark.parametrize(
    "text",
    [
        "  a: 1\n  b:\n  - x\n",  # an indented top level, a sequence at its key's indent
        "a:\n- name: x\n  tags:\n  - y\n- name: z\nb: 2\n",
        "a:\n  -   name: x\n      size: 3\n",
        "a:\n  - -1\n  - -0.0\n  - b:c\n  - 24/7 on call\n  - ~/rules\n",
        "a: x#y\nb: 한국어 설명 (규칙, 10%)\nc: https://example.com/a?b=c\n",
        "a: [b c, 'd, e', \"f\", -3, 0.25, yes, ~]   # why\n",
        "a:\n  - name:\n  - b\n",
        "a: 'it''s # not a comment'  # but this is\n",
    ],
)
def test_edge_cases_inside_the_subset_are_read_as_pyyaml_reads_them(text: str) -> None:
    ours = fast(text)
    assert ours is not None, f"declined: {text!r}"
    assert ours == pyyaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 1\n",  # tags
        "---\na: 1\n",  # document markers
        "%YAML 1.1\n---\na: 1\n",
        "a: 1\na: 2\n",  # a duplicate key (refused, with its line)
        "- a\n- b\n",  # not a mapping
        "just text\n",
        "? a\n: b\n",  # a complex key
        "a: {b: 1}\n",  # a flow mapping
        "a: |\n  text\n",  # block scalars
        "a: >\n  text\n",
        "a: one\n  two\n",  # a plain scalar over two lines
        "a: 'one\n  two'\n",
        'a: "tab\\t"\n',  # a backslash escape
        "a:\tb\n",  # a tab
        "a: 1.5e3\n",  # other number forms
        "a: 0x1f\n",
        "a: 012\n",
        "a: 1_000\n",
        "a: 1:30\n",
        "a: 2024-01-31\n",
        "a: .5\n",
        "a: .inf\n",
        "a: +1\n",
        "<<: 1\n",
        "a: =\n",
        "yes: 1\n",  # a key PyYAML reads as true
        "a: b: c\n",
        "a: [b, [c]]\n",
        "a: [b,]\n",
        "a: x\u2028y\n",
        "\ufeffa: 1\n",
        "a: 1\r\nb: 2\r\n",
    ],
)
def test_text_outside_the_subset_is_declined(text: str) -> None:
    assert parse_simple(text) is None


# --- The files rulesync really reads take the fast path ------------------------------------

TYPICAL = {
    "empty": "",
    "comment only": "# only a comment\n",
    "marker as init writes it": default_marker_text("basic"),
    "marker with everything": "phase: auto\ntargets: [cursor, agents]\nexclude:\n  - testing\n"
    "commit: false\nmetrics:\n  developers: 3\n  required_availability: 99.95\n"
    "  multi_region: true\n",
    "marker with a library path": "phase: basic\nlibrary: /home/me/rules\ntargets: cursor\n",
    "config": "library: ~/rules\nlibraries:\n  - /home/me/rules\n  - /srv/team rules\n"
    "debounce_ms: 50\nreconcile_interval: 60.0\ncommit_author: Rules Bot <bot@example.com>\n"
    "run_hooks: false\nlog_level: debug\nlibrary_urls:\n  - https://example.com/rules.git\n",
    "config with a flow list": "libraries: [/tmp/lib20]\n",
    "registry as rulesync writes it": "# Projects the rulesync service watches "
    "(`rulesync projects add/remove`).\nprojects:\n  - '/home/me/app'\n  - '/home/me/it''s here'\n",
    "empty registry": "projects: []\n",
}


def shipped_yaml_files() -> list[Path]:
    return sorted((REPO_ROOT / "rules").rglob("*.yaml"))


@pytest.mark.parametrize("path", shipped_yaml_files(), ids=lambda p: p.name)
def test_every_yaml_file_shipped_takes_the_fast_path(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    ours = fast(text)
    assert ours is not None, f"{path} falls back to PyYAML"
    assert ours == pyyaml(text)


@pytest.mark.parametrize("text", TYPICAL.values(), ids=TYPICAL.keys())
def test_typical_markers_configs_and_registries_take_the_fast_path(text: str) -> None:
    ours = fast(text)
    assert ours is not None, f"falls back to PyYAML: {text!r}"
    assert ours == pyyaml(text)


def test_parse_mapping_still_reports_pyyaml_errors_with_their_lines() -> None:
    with pytest.raises(InvalidInput, match=r"settings.yaml:2: settings uses a YAML alias"):
        yamlio.parse_mapping("a: &x 1\nb: *x\n", FILE, "settings")
    with pytest.raises(InvalidInput, match=r"settings.yaml:2: settings is not valid YAML"):
        yamlio.parse_mapping("a: 1\n b: 2\n", FILE, "settings")


def test_the_files_init_writes_take_the_fast_path(tmp_path: Path) -> None:
    # (tests/test_cold_start.py shows a check and a no-op apply never load PyYAML.)
    project = tmp_path / "app"
    rulesync(tmp_path, "init", str(project), check=0)
    for written in (project / MARKER, registry_path()):
        text = written.read_text(encoding="utf-8")
        assert fast(text) is not None, f"{written} falls back to PyYAML"
        assert fast(text) == pyyaml(text)
