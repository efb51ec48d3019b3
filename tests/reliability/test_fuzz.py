"""Fuzzing with hypothesis (derandomized, no example database: CI sees the same examples).

- Applying a plan is idempotent: a second plan over the result is empty, and carrying out the
  same plan again leaves `.cursor/rules` byte for byte as it was.
- A plan writes only desired rules and deletes only files the manifest owns; a file rulesync
  did not write is replaced only with `--force`, and then only after it was saved.
- The `.mdc` reader never raises; the marker, YAML and manifest loaders raise nothing but
  rulesync's own clear errors, whatever the bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rulesync import manifest as manifest_mod
from rulesync.apply import execute
from rulesync.errors import RulesyncError
from rulesync.library import RuleFile
from rulesync.marker import parse_marker
from rulesync.mdc import read_rule
from rulesync.plan import Desired, Plan, make_plan
from rulesync.project import read_disk
from rulesync.yamlio import parse_mapping
from support.env import snapshot
from tests.reliability.conftest import Figures

EXAMPLES = 200
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SECTION = "Fuzzing (hypothesis)"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_property(
    figures: Figures, scenario: str, prop: Callable[[], None], runs: list[int]
) -> None:
    """Run a hypothesis property and record how many examples it tried."""
    try:
        prop()
    except BaseException:
        figures.add(SECTION, scenario, trials=len(runs), failures=1)
        raise
    figures.add(SECTION, scenario, trials=len(runs), failures=0, detail="derandomized")


# --- plans carried out on a real folder -----------------------------------------------------

NAMES = ("alpha.mdc", "beta.mdc", "gamma.mdc", "delta.mdc")
CONTENTS = (b"v1\n", b"v2\n", b"v3 longer content\n", b"the user's words\n")
USER_FILES = {"mine.mdc": b"the user's own rule\n", "notes.txt": b"not a rule\n"}
SECRET = b"PRIVATE-OUTSIDE-FILE\n"

disk_entry = st.one_of(
    st.none(),
    st.sampled_from(CONTENTS).map(lambda c: ("file", c)),
    st.just(("symlink", b"")),
    st.just(("folder", b"")),
)


@st.composite
def rule_states(draw: st.DrawFn) -> dict[str, Any]:
    """Desired rules, a manifest (rules and pending) and what is on disk, drawn together so
    that owned, edited, unmanaged, missing, symlinked and folder cases all occur."""
    desired = draw(st.dictionaries(st.sampled_from(NAMES), st.sampled_from(CONTENTS[:3])))
    rules = draw(st.dictionaries(st.sampled_from(NAMES), st.sampled_from(CONTENTS)))
    pending = draw(st.dictionaries(st.sampled_from(NAMES), st.sampled_from(CONTENTS), max_size=2))
    disk = {name: draw(disk_entry) for name in NAMES}
    return {
        "desired": desired,
        "rules": {n: sha(c) for n, c in rules.items()},
        "pending": {n: sha(c) for n, c in pending.items()},
        "disk": {n: e for n, e in disk.items() if e is not None},
        "force": draw(st.booleans()),
    }


RULES = ".cursor/rules/"


def lay_out(base: Path, state: dict[str, Any]) -> Path:
    """The rules folder for `state`, with the user's files and a private file outside."""
    rules = base / "project" / ".cursor" / "rules"
    rules.mkdir(parents=True)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_bytes(SECRET)
    for name, data in USER_FILES.items():
        (rules / name).write_bytes(data)
    for name, (kind, data) in state["disk"].items():
        if kind == "file":
            (rules / name).write_bytes(data)
        elif kind == "symlink":
            os.symlink(base / "outside" / "secret.txt", rules / name)
        else:
            (rules / name).mkdir()
    current = manifest_mod.Manifest(
        "lib",
        "tier",
        files={RULES + n: s for n, s in state["rules"].items()},
        pending={RULES + n: s for n, s in state["pending"].items()},
    )
    (rules.parent.parent / manifest_mod.MANIFEST).write_bytes(manifest_mod.dumps(current))
    return rules


def project_of(rules: Path) -> Path:
    return rules.parent.parent


def names_of(current: manifest_mod.Manifest) -> set[str]:
    """The rule names the manifest claims in the rules folder."""
    return {p.removeprefix(RULES) for p in current.paths}


def plan_for(rules: Path, desired: dict[str, RuleFile], force: bool) -> Plan:
    project = project_of(rules)
    current = manifest_mod.load(project)
    disk, _ = read_disk(project, {RULES + n for n in desired} | current.paths)
    wanted = Desired(files={RULES + n: r.sha256 for n, r in desired.items()})
    return make_plan(wanted, current, disk, library="lib", tier="tier", targets=(), force=force)


def carry_out(plan: Plan, rules: Path, desired: dict[str, RuleFile], backups: Path) -> list[Path]:
    """`execute` with the bytes each changed path gets (None: deleted)."""
    writes = {}
    for action in plan.changes:
        rule = desired.get(action.path.removeprefix(RULES))
        writes[action.path] = rule.data if rule is not None and action.sha256 else None
    return execute(plan, project_of(rules), writes, {}, backup_dir=backups, durable=False)


def rule_files_of(state: dict[str, Any], base: Path) -> dict[str, RuleFile]:
    return {
        name: RuleFile(name, "tier", base / "library" / name, data, sha(data))
        for name, data in state["desired"].items()
    }


def without_manifest(entries: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in entries.items() if k != manifest_mod.MANIFEST}


def test_applying_a_plan_twice_equals_applying_it_once(figures: Figures) -> None:
    runs: list[int] = []

    @FUZZ
    @given(rule_states())
    def prop(state: dict[str, Any]) -> None:
        runs.append(1)
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            rules = lay_out(base, state)
            desired = rule_files_of(state, base)
            plan = plan_for(rules, desired, state["force"])
            carry_out(plan, rules, desired, base / "backups")
            once = snapshot(rules)
            again = plan_for(rules, desired, state["force"])
            assert not again.changes and not again.manifest_changed, again.actions
            carry_out(again, rules, desired, base / "backups-2")
            assert snapshot(rules) == once
            carry_out(plan, rules, desired, base / "backups-3")
            assert snapshot(rules) == once, "carrying out the same plan again changed the folder"

    run_property(figures, "applying a plan twice equals applying it once", prop, runs)


def test_a_plan_writes_only_desired_rules_and_deletes_only_what_the_manifest_owns(
    figures: Figures,
) -> None:
    runs: list[int] = []

    @FUZZ
    @given(rule_states())
    def prop(state: dict[str, Any]) -> None:
        runs.append(1)
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            rules = lay_out(base, state)
            desired = rule_files_of(state, base)
            current = manifest_mod.load(project_of(rules))
            managed = names_of(current)
            plan = plan_for(rules, desired, state["force"])
            before = without_manifest(snapshot(rules))
            backups = carry_out(plan, rules, desired, base / "backups")
            after = without_manifest(snapshot(rules))
            saved = {p.name: p.read_bytes() for p in backups}
            assert (base / "outside" / "secret.txt").read_bytes() == SECRET
            for name, data in USER_FILES.items():
                assert after[name] == data, f"the user's {name} was touched"
            for name in set(before) | set(after):
                old, new = before.get(name), after.get(name)
                if old == new:
                    continue
                assert name in desired or name in managed, f"{name}: not rulesync's"
                owned = old is None or current.owns(RULES + name, sha(old))
                if new is not None:
                    assert name in desired, f"{name} was written but is not a desired rule"
                    assert new == desired[name].data
                else:
                    assert name in managed, f"{name} was deleted but never managed"
                if not owned:
                    assert state["force"], (
                        f"{name} was not rulesync's, yet replaced without --force"
                    )
                    if old is not None and not old.startswith(b"->"):
                        assert saved.get(name) == old, f"{name} replaced before it was saved"
                    else:
                        assert f"{name}.symlink.txt" in saved, f"{name}: symlink not recorded"
            for action in plan.conflicts:
                name = action.path.removeprefix(RULES)
                assert before.get(name) == after.get(name)

    run_property(
        figures, "a plan writes only desired rules, deletes only what the manifest owns", prop, runs
    )


# --- readers on arbitrary bytes -------------------------------------------------------------

YAML_VALUES = (
    "basic",
    "auto",
    "default",
    "/etc",
    "../../..",
    "~",
    "null",
    "yes",
    "1",
    "-0x1f",
    "1e400",
    ".nan",
    "2001-12-14",
    "12:30:01",
    "'quoted: value'",
    '"esc\\u0000aped"',
    "[testing, logging]",
    "{developers: 3}",
    "&anchor value",
    "*anchor",
    "!!int abc",
    "!!int +",
    "!!int 0b2",
    "!!float x",
    "!!bool maybe",
    "!!timestamp 2001-02-30",
    "!!timestamp abc",
    "!!binary aGk=",
    "!!set {a, b}",
    "!!omap [a]",
    "!!python/object/apply:os.system [id]",
    "!custom tag",
    "|\n  block",
    ">-\n  folded",
    "[" * 40,
    "9" * 5000,
)
YAML_KEYS = ("phase", "library", "exclude", "commit", "metrics", "<<", "? complex", "1", "'q'", "")


@st.composite
def yamlish(draw: st.DrawFn) -> bytes:
    """Marker-like YAML: known and unknown keys, tags, anchors, odd scalars, odd indentation."""
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 5))
        if kind == 0:
            lines.append(draw(st.sampled_from(["---", "...", "%YAML 1.1", "# note", "\t", "- x"])))
        else:
            indent = " " * draw(st.integers(0, 3))
            key = draw(st.sampled_from(YAML_KEYS))
            value = draw(st.sampled_from(YAML_VALUES) | st.text(max_size=12))
            lines.append(f"{indent}{key}: {value}")
    text = "\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


any_bytes = st.binary(max_size=400) | yamlish()
ROOT = Path("/nonexistent/project")


def only_rulesync_errors(call: Callable[[], object]) -> None:
    try:
        call()
    except RulesyncError as exc:
        message = str(exc)
        assert message and "\n" not in message, f"not a one-line message: {message!r}"


def test_the_marker_loader_raises_only_rulesync_errors(figures: Figures) -> None:
    runs: list[int] = []

    @FUZZ
    @given(any_bytes)
    @example(b"phase: !!int abc\n")
    @example(b"phase: basic\nmetrics: {developers: !!timestamp 2001-02-30}\n")
    @example(b"phase: !!bool maybe\n")
    @example(b"phase: !!int +\n")
    @example(b"phase: !!timestamp abc\n")
    @example(b"phase: " + b"9" * 5000 + b"\n")
    @example(b"phase: " + b"[" * 30000 + b"]" * 30000 + b"\n")
    def prop(data: bytes) -> None:
        runs.append(1)
        only_rulesync_errors(lambda: parse_marker(data, ROOT))

    run_property(figures, "the marker loader on arbitrary bytes", prop, runs)


def test_the_yaml_reader_raises_only_rulesync_errors(figures: Figures) -> None:
    runs: list[int] = []

    @FUZZ
    @given(any_bytes)
    @example(b"tiers: !!float x\n")
    @example(b"projects: [!!int 0b2]\n")
    def prop(data: bytes) -> None:
        runs.append(1)
        only_rulesync_errors(lambda: parse_mapping(data, ROOT / "tiers.yaml", "tiers.yaml"))

    run_property(figures, "the YAML reader (config, registry, tiers.yaml)", prop, runs)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@st.composite
def manifestish(draw: st.DrawFn) -> bytes:
    """Manifest-like JSON: the right shape with hostile names, digests and values."""
    name = st.sampled_from(["a.mdc", "../x.mdc", "a\nb.mdc", "/etc/passwd", ".hidden.mdc", ""])
    digest = st.sampled_from(["0" * 64, "F" * 64, "short", ""]) | json_values
    doc = {
        "version": draw(st.sampled_from([1, 2, "1", None])),
        "library": draw(json_values),
        "tier": draw(json_values),
        "rules": draw(
            st.dictionaries(name | st.text(max_size=6), digest, max_size=3) | json_values
        ),
        "pending": draw(st.dictionaries(name, digest, max_size=2) | json_values),
    }
    import json

    return json.dumps(doc).encode("utf-8")


def test_the_manifest_reader_raises_only_rulesync_errors(figures: Figures) -> None:
    runs: list[int] = []

    @FUZZ
    @given(st.binary(max_size=400) | manifestish())
    @example(b'{"version": 1' + b"0" * 5000 + b"}")
    @example(b"[" * 100_000 + b"]" * 100_000)
    def prop(data: bytes) -> None:
        runs.append(1)
        only_rulesync_errors(lambda: manifest_mod.parse(data, ROOT / manifest_mod.MANIFEST))

    run_property(figures, "the manifest reader on arbitrary bytes", prop, runs)


mdc_lines = st.sampled_from(
    [
        "---",
        "\ufeff---",
        "description: a rule",
        "description: |",
        "  continued",
        "globs: **/*.ts, src/{a,b}/*.py",
        "globs: [a, 'b']",
        "globs:",
        "  - '**/*.py'",
        "alwaysApply: true",
        'alwaysApply: "true"',
        "alwaysApply:",
        "unknown: key",
        "not a key line",
        "# comment",
        "",
    ]
)


def test_the_mdc_reader_never_raises(figures: Figures) -> None:
    runs: list[int] = []

    @FUZZ
    @given(
        st.binary(max_size=400)
        | st.lists(mdc_lines, max_size=10).map(lambda ls: "\n".join(ls).encode())
    )
    def prop(data: bytes) -> None:
        runs.append(1)
        info = read_rule(data)
        assert info.rule_type is not None

    run_property(figures, "the `.mdc` reader on arbitrary bytes", prop, runs)
