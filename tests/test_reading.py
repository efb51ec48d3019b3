"""The reading model (SPEC §8): what each assistant loads from the files a project holds,
whoever wrote them; every rule reaching every enabled assistant once, or said; glob dialects;
budgets equal to the bytes the assistant reads. Real projects and the real `rulesync`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulesync import reading
from rulesync.globs import Dialect, matches, translate
from rulesync.library import bundled_root
from rulesync.mdc import RuleType
from rulesync.reading import plan_together
from rulesync.targets import TARGETS, SourceRule, combine, get, render_all
from rulesync.targets.base import How
from support.repos import git, make_repo, rulesync

RUNBOOK = "---\ndescription:\nglobs:\nalwaysApply: false\n---\n# Runbook\n\nPage the on-call.\n"
ALL = ("cursor", "agents", "claude", "copilot", "devin", "windsurf")


@pytest.fixture
def bundled_project(tmp_path: Path) -> Path:
    """A real repository following a copy of the bundled library (enterprise tier) with one
    Manual rule added: the bundled library has none."""
    project = make_repo(tmp_path / "project")
    library = project / "rules-lib"
    shutil.copytree(bundled_root(), library)
    (library / "enterprise" / "runbook.mdc").write_text(RUNBOOK)
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "library")
    return project


def apply_with(project: Path, targets: tuple[str, ...]) -> str:
    (project / ".rulesync.yaml").write_text(
        f"phase: enterprise\nlibrary: rules-lib\ntargets: [{', '.join(targets)}]\n"
    )
    return rulesync(project, "apply", check=0).stderr


def tier_rules(project: Path) -> list[SourceRule]:
    from rulesync.library import load_library

    library = load_library(project / "rules-lib", "rules-lib", project=project)
    return [SourceRule(p, r.data) for p, r in library.resolve("enterprise").items()]


@pytest.mark.parametrize(
    "targets",
    [
        ("cursor", "agents"),
        ("cursor", "agents", "claude", "copilot"),
        ("agents", "claude"),
        ALL,
    ],
)
def test_every_rule_reaches_every_enabled_assistant_once_or_apply_says_so(
    bundled_project: Path, targets: tuple[str, ...]
) -> None:
    warnings = apply_with(bundled_project, targets)
    rules = tier_rules(bundled_project)
    # What the assistants will read: the files on disk, as apply left them.
    files = reading.read_project(bundled_project)
    enabled = [get(n) for n in targets]
    found = reading.origins(enabled, rules, files, ("AGENTS.md", ".github/copilot-instructions.md"))
    for reader in reading.enabled_readers(enabled):
        load = reading.simulate(reader, files, "", found)
        for rule in rules:
            items = [i for i in load.items if i.rule == rule.stem and i.how is not How.SHADOWED]
            text = {i.source for i in items if i.how in (How.ALWAYS, How.GLOB, How.NOT_ATTACHED)}
            line = next((w for w in warnings.splitlines() if f"{reader.assistant} loads" in w), "")
            if len(text) > 1:
                assert rule.stem in line, (reader.assistant, rule.stem, text)
            if not items:
                lost = next(
                    w
                    for w in warnings.splitlines()
                    if w.startswith(f"rulesync: warning: {reader.assistant} ")
                    and ("can reach" in w or "never" in w)
                )
                assert rule.stem in lost, (reader.assistant, rule.stem)
            # No Manual rule is lost for the assistant of any enabled target.
            if rule.info.rule_type is RuleType.MANUAL and reader not in reading.AGENTS_ONLY:
                assert items, (reader.assistant, rule.stem)
    # Each duplicate is said once per assistant, with its cost.
    said = [w for w in warnings.splitlines() if "twice" in w]
    assert len(said) == len({w.split(" loads ")[0] for w in said})
    assert all("tokens more per request" in w for w in said)
    # `check` says the same.
    doc = json.loads(rulesync(bundled_project, "check", "--json", check=0).stdout)
    assert [w for w in doc["warnings"] if "twice" in w] == [
        w.removeprefix("rulesync: warning: ") for w in said
    ]


ALWAYS_RULES = {"project-overview", "face-data-privacy", "security-enterprise"}


def test_agents_and_claude_load_every_rule_once_the_manual_one_by_name(
    bundled_project: Path,
) -> None:
    warnings = apply_with(bundled_project, ("agents", "claude"))
    # Each loads every rule once and reaches all; only the tier's size is said (it is over
    # the library's own budget of 4,000 tokens).
    said = [w for w in warnings.splitlines() if "Claude Code" in w or "Codex" in w]
    assert said and all("over the library's budget of 4,000" in w for w in said)
    # Claude Code reads the Always rules in AGENTS.md: not written again in .claude/rules.
    written = {p.stem for p in (bundled_project / ".claude/rules").iterdir()}
    assert not written & ALWAYS_RULES
    skill = (bundled_project / ".claude/skills/runbook/SKILL.md").read_text()
    assert "disable-model-invocation: true" in skill and "Page the on-call." in skill
    agents = (bundled_project / "AGENTS.md").read_text()
    assert "- `runbook` (full text in `.claude/skills/runbook/SKILL.md`)" in agents


def test_agents_alone_writes_the_manual_rule_to_a_file_agents_md_names(
    bundled_project: Path,
) -> None:
    apply_with(bundled_project, ("agents",))
    agents = (bundled_project / "AGENTS.md").read_text()
    assert "- `runbook` (full text in `.agents/rules/runbook.md`)" in agents
    assert (
        (bundled_project / ".agents/rules/runbook.md").read_text().endswith("Page the on-call.\n")
    )
    assert "Page the on-call." not in agents  # named, not loaded on every request


def test_a_claude_md_without_the_import_makes_claude_write_its_always_rules_itself() -> None:
    rules = [
        SourceRule("core.mdc", b"---\nalwaysApply: true\n---\nCore.\n"),
        SourceRule("py.mdc", b"---\nglobs: **/*.py\n---\nPython.\n"),
    ]
    names = ("agents", "claude")
    # No CLAUDE.md: Claude Code reads AGENTS.md, where the Always rule is.
    fresh = plan_together(names, rules, {})["claude"].files
    assert ".claude/rules/core.md" not in fresh and ".claude/rules/py.md" in fresh
    # A CLAUDE.md that does not import AGENTS.md hides it: the rule must be in .claude/rules.
    hidden = plan_together(names, rules, {"CLAUDE.md": b"# Ours\n"})["claude"].files
    assert hidden[".claude/rules/core.md"] == b"Core.\n"
    # `@AGENTS.md` in CLAUDE.md brings it back (not inside a code span).
    imported = plan_together(names, rules, {"CLAUDE.md": b"# Ours\n\n@AGENTS.md\n"})["claude"]
    assert ".claude/rules/core.md" not in imported.files
    quoted = plan_together(names, rules, {"CLAUDE.md": b"See `@AGENTS.md`.\n"})["claude"]
    assert ".claude/rules/core.md" in quoted.files


def test_claude_reads_imports_hops_deep_and_agents_md_only_without_claude_md() -> None:
    files = {
        "CLAUDE.md": b"@docs/a.md\n",
        "docs/a.md": b"@b.md\n",
        "docs/b.md": b"deep\n",
        "AGENTS.md": b"agents\n",
    }
    assert reading.imports(files, "CLAUDE.md") == ["docs/a.md", "docs/b.md"]
    claude = TARGETS["claude"].reads
    assert claude is not None
    load = reading.simulate(claude, files, "src/x.py", {})
    assert [c.name for c in load.costs] == ["CLAUDE.md", "docs/a.md", "docs/b.md"]
    load = reading.simulate(claude, {"AGENTS.md": b"agents\n"}, "src/x.py", {})
    assert [c.name for c in load.costs] == ["AGENTS.md"]


# Budgets: every byte the assistant reads, built by hand and compared.


def test_the_budget_counts_every_file_each_assistant_reads_the_users_own_included(
    tmp_path: Path,
) -> None:
    project = make_repo(tmp_path / "budget")
    lib = project / "rules-lib" / "one"
    lib.mkdir(parents=True)
    (lib.parent / "tiers.yaml").write_text("tiers:\n  - name: one\n")
    (lib / "core.mdc").write_text("---\nalwaysApply: true\n---\nCore rule.\n")
    (lib / "all.mdc").write_text("---\nglobs: **/*\n---\nFor every file.\n")
    (lib / "ask.mdc").write_text("---\ndescription: When deploying\n---\nSteps.\n")
    # The user's own: text in AGENTS.md, an Always rule and a scoped one in .cursor/rules,
    # and a CLAUDE.md importing AGENTS.md.
    (project / "AGENTS.md").write_text("# Ours\n\nRun make test.\n")
    (project / ".cursor/rules").mkdir(parents=True)
    (project / ".cursor/rules/mine.mdc").write_text("---\nalwaysApply: true\n---\nMine.\n")
    (project / ".cursor/rules/web.mdc").write_text("---\nglobs: web/**\n---\nWeb.\n")
    (project / "CLAUDE.md").write_text("# Claude\n\n@AGENTS.md\n")
    (project / ".rulesync.yaml").write_text(
        "phase: one\nlibrary: rules-lib\ntargets: [cursor, agents, claude]\n"
    )
    doc = json.loads(rulesync(project, "explain", "--json").stdout)
    rulesync(project, "apply")
    size = {p: len((project / p).read_bytes()) for p in ("AGENTS.md", "CLAUDE.md")}
    budgets = {a["name"]: a for a in doc["assistants"]}
    cursor = {r["name"]: r["bytes"] for r in budgets["Cursor"]["rules"]}
    assert cursor == {
        "AGENTS.md": size["AGENTS.md"],  # the user's text and rulesync's block, whole
        "core.mdc": len("Core rule."),
        ".cursor/rules/mine.mdc": len("Mine."),  # the user's own Always rule
        "all.mdc": len("For every file."),  # `**/*` attaches to every file
        "ask.mdc": len("When deploying"),
    }
    assert budgets["Cursor"]["total"]["bytes"] == sum(cursor.values())
    claude = {r["name"]: r["bytes"] for r in budgets["Claude Code"]["rules"]}
    assert claude == {
        "CLAUDE.md": size["CLAUDE.md"],
        "AGENTS.md": size["AGENTS.md"],  # through CLAUDE.md's @AGENTS.md
        "all.mdc": len("For every file."),
        "ask.mdc": len("When deploying"),  # a skill: its description
    }
    text = rulesync(project, "explain").stdout
    assert "assistant Cursor:" in text and ".cursor/rules/mine.mdc (full text)" in text


# Glob dialects: Cursor reads .gitignore style, Claude Code and Copilot from the root.


@pytest.mark.parametrize(
    ("pattern", "path", "cursor", "rooted"),
    [
        ("*.py", "lib/x.py", True, False),  # a bare pattern: any folder for Cursor only
        ("*.py", "x.py", True, True),
        ("Dockerfile", "deploy/Dockerfile", True, False),
        ("/src/*.py", "src/a.py", True, False),  # rooted tools read the `/` literally
        ("docs/", "docs/a/b.md", True, False),
        ("src/*.{ts,tsx}", "src/app.tsx", False, True),  # braces: literal for Cursor
        ("**/*.py", "a/b/c.py", True, True),
    ],
)
def test_each_dialect_reads_a_pattern_as_its_docs_say(
    pattern: str, path: str, cursor: bool, rooted: bool
) -> None:
    assert matches(pattern, path, Dialect.GITIGNORE) is cursor
    assert matches(pattern, path, Dialect.ROOTED) is rooted


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("*.py", "lib/x.py"),
        ("Dockerfile", "deploy/Dockerfile"),
        ("/src/*.py", "src/a.py"),
        ("docs/", "docs/a/b.md"),
        ("src/api", "src/api/app.py"),
        (".gitlab-ci.yml", "ci/.gitlab-ci.yml"),
    ],
)
def test_a_translated_pattern_matches_in_the_rooted_dialect_what_cursor_matches(
    pattern: str, path: str
) -> None:
    translated = translate(pattern)
    assert translated is not None
    assert any(matches(t, path, Dialect.ROOTED) for t in translated)
    assert any(matches(t, "other/place.txt", Dialect.ROOTED) for t in translated) is matches(
        pattern, "other/place.txt"
    )


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="*?/.ae]{},!\\ ", max_size=10)
    | st.sampled_from(
        ["**/*", "**", "*", "/**", "./**", "**/", "*.*", "{**,x}", "[!x]*", "**/*.py"]
    ),
    st.sampled_from(list(Dialect)),
)
def test_a_glob_is_found_to_match_every_file_exactly_when_it_matches_all_three_paths(
    glob: str, dialect: Dialect
) -> None:
    three = all(matches(glob, p, dialect) for p in ("a.x", "b/c/d.y", ".e"))
    assert reading._everywhere(glob, dialect) is three


def test_a_negation_cannot_be_translated_and_is_warned() -> None:
    assert translate("!vendor/**") is None
    rule = SourceRule("neg.mdc", b"---\nglobs: !vendor/**, src/**\n---\nX.\n")
    rendered = render_all(["claude", "copilot"], [rule])
    for name in ("claude", "copilot"):
        assert any("`!vendor/**`" in w and "untranslatable" in w for w in rendered[name].warnings)


def test_explain_gives_cursor_and_claude_the_verdicts_their_docs_give(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "dialects")
    lib = project / "rules-lib" / "one"
    lib.mkdir(parents=True)
    (lib.parent / "tiers.yaml").write_text("tiers:\n  - name: one\n")
    (lib / "brace.mdc").write_text("---\nglobs: src/*.{ts,tsx}\n---\nTypeScript.\n")
    (lib / "bare.mdc").write_text("---\nglobs: *.py\n---\nPython.\n")
    (lib / "listed.mdc").write_text('---\nglobs:\n  - "web/**/*.tsx"\n---\nWeb.\n')
    (lib / "negated.mdc").write_text("---\nglobs: !src/**\n---\nNot src.\n")
    (project / ".rulesync.yaml").write_text(
        "phase: one\nlibrary: rules-lib\ntargets: [cursor, claude]\n"
    )

    def how(target: str, path: str) -> dict[str, str]:
        out = rulesync(project, "explain", "--json", "--target", target, path).stdout
        return {r["name"]: r["how"] for r in json.loads(out)["rules"]}

    # A brace glob: Cursor reads the braces literally, Claude Code expands them.
    assert how("cursor", "src/app.tsx")["brace.mdc"] == "not attached"
    assert how("claude", "src/app.tsx")["brace.mdc"] == "glob"
    # A bare pattern: Cursor matches it in any folder; the Claude file says `**/*.py`, so
    # Claude Code does too (its docs read a bare `*.py` as the root folder's only).
    assert how("cursor", "lib/x.py")["bare.mdc"] == "glob"
    assert how("claude", "lib/x.py")["bare.mdc"] == "glob"
    rulesync(project, "apply")
    assert '- "**/*.py"' in (project / ".claude/rules/bare.md").read_text()
    # A YAML list: read as its items by both.
    assert how("cursor", "web/a/b.tsx")["listed.mdc"] == "glob"
    assert how("claude", "web/a/b.tsx")["listed.mdc"] == "glob"
    # A negation Claude Code cannot say: untranslatable, not silently widened.
    assert how("claude", "lib/x.py")["negated.mdc"] == "untranslatable"
    assert how("cursor", "lib/x.py")["negated.mdc"] == "not attached"
    assert not (project / ".claude/rules/negated.md").exists()


# Limits: on what the tool reads.


def test_codex_cuts_the_whole_agents_md_and_the_rules_past_the_cut_are_named() -> None:
    big = b"---\nalwaysApply: true\n---\n" + b"Keep it small.\n" * 2500  # 37 KB
    rules = [
        SourceRule("core.mdc", b"---\nalwaysApply: true\n---\nCore.\n"),
        SourceRule("huge.mdc", big),
        SourceRule("py.mdc", b"---\nglobs: **/*.py\n---\nPython.\n"),
    ]
    codex = TARGETS["agents"].reads
    assert codex is not None
    texts = {r.stem: r.text for r in rules}
    # The user's 36 KB of notes: rulesync's block goes first, so the cut falls on them.
    out = combine(plan_together(["agents"], rules[::2], {}))
    user = {"AGENTS.md": b"# Ours\n\n" + b"Long notes.\n" * 3000}
    files = reading.after_apply(user, out.files, out.blocks)
    assert files["AGENTS.md"].startswith(b"<!-- rulesync:begin")
    assert reading.findings(codex, files, {}, {"core": "Core.", "py": "Python."}) == []
    load = reading.simulate(codex, files, "src/a.py", {})
    assert sum(c.bytes for c in load.costs) == 32 * 1024
    # A block over the cut loses the rules after it: named, with what they cost.
    out = combine(plan_together(["agents"], rules, {}))
    files = reading.after_apply({}, out.files, out.blocks)
    found = reading.findings(codex, files, {}, texts)
    assert [(f.kind, f.rules) for f in found] == [("truncated", ("py",))]
    assert "Codex cuts AGENTS.md before py" in reading.describe(found[0])
    load = reading.simulate(codex, files, "src/a.py", {})
    verdicts = {v.rule: v.how for v in reading.verdicts(load, texts)}
    assert verdicts == {"core": How.ALWAYS, "huge": How.ALWAYS, "py": How.TRUNCATED}


def test_zed_reads_only_the_first_file_of_its_list() -> None:
    zed = next(r for r in reading.AGENTS_ONLY if r.assistant == "Zed")
    files = {".github/copilot-instructions.md": b"ours\n", "AGENTS.md": b"agents\n"}
    load = reading.simulate(zed, files, "a.py", {})
    assert [c.name for c in load.costs] == [".github/copilot-instructions.md"]


def test_the_docs_table_cites_every_source_of_the_reading_model() -> None:
    from support.repos import REPO_ROOT

    text = (REPO_ROOT / "docs/how-to/targets-and-assistants.md").read_text()
    for reader in reading.readers(TARGETS.values()):
        assert reader.assistant.split(" (")[0] in text, reader.assistant
        for fact in reader.facts:
            assert fact.url in text, (reader.assistant, fact.url)
            assert fact.checked == "2026-12-07"


def test_reading_a_project_never_follows_a_symlink_and_stays_bounded(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("the user's secret\n")
    project = tmp_path / "hostile"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude/rules").symlink_to(outside)  # a folder leading out
    (project / "CLAUDE.md").symlink_to(outside / "secret.md")  # a file leading out
    deep = project / ".cursor/rules" / "/".join(["d"] * 40)
    deep.mkdir(parents=True)
    (deep / "x.mdc").write_text("deep\n")
    (project / ".cursor/rules/ok.mdc").write_text("---\nalwaysApply: true\n---\nOk.\n")
    (project / "AGENTS.md").write_text("ours\n")
    found = reading.read_project(project)
    assert found == {
        ".cursor/rules/ok.mdc": b"---\nalwaysApply: true\n---\nOk.\n",
        "AGENTS.md": b"ours\n",
    }


def test_a_changed_claude_md_wakes_the_service_as_it_changes_the_plan() -> None:
    from rulesync.daemon.events import WatchKind, is_relevant

    for name in ("CLAUDE.md", "CLAUDE.local.md", "AGENTS.md"):
        assert is_relevant(WatchKind.MARKER, {name}, is_self=False), name
    assert not is_relevant(WatchKind.MARKER, {"README.md"}, is_self=False)


def test_reading_a_project_skips_rulesyncs_own_files_and_keeps_the_users(tmp_path: Path) -> None:
    rules = tmp_path / ".cursor" / "rules"
    (rules / "team").mkdir(parents=True)
    (rules / "ours.mdc").write_text("rulesync's\n")
    (rules / "mine.mdc").write_text("the user's\n")
    (rules / "team" / "theirs.mdc").write_text("the user's too\n")
    (tmp_path / "AGENTS.md").write_text("# notes\n")
    # A manifest naming a folder as its file cannot hide what the folder holds.
    skip = {".cursor/rules/ours.mdc", ".cursor/rules/team", "AGENTS.md"}
    found = reading.read_project(tmp_path, skip=skip)
    assert sorted(found) == [".cursor/rules/mine.mdc", ".cursor/rules/team/theirs.mdc"]
    assert reading.own_files(found, skip) == reading.own_files(reading.read_project(tmp_path), skip)
