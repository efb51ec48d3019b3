"""`rulesync explain`: which rules attach to a file and why, and what a tier loads on every
request. The logic is tested on plain data; the command on real projects and libraries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rulesync.explain import How, always_on, estimate_tokens, explain_file, glob_matches
from rulesync.mdc import read_rule
from support.repos import git, make_repo, rulesync


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.py", "app.py", True),
        ("*.py", "src/api/app.py", True),  # no `/`: the name, in any folder
        ("src/*.py", "src/app.py", True),
        ("src/*.py", "src/api/app.py", False),  # a `/` anchors; `*` stays in one folder
        ("src/**/*.py", "src/app.py", True),  # `**/` is zero or more folders
        ("src/**/*.py", "src/api/v1/app.py", True),
        ("**/*.py", "app.py", True),
        ("src/**/api/**/*.py", "src/api/app.py", True),
        ("k8s/**/*.yaml", "k8s/deploy.yaml", True),
        ("k8s/**/*.yaml", "other/k8s/deploy.yaml", False),
        ("docs/", "docs/guide/intro.md", True),  # a folder covers what is inside it
        ("src/api", "src/api/app.py", True),
        ("/README.md", "README.md", True),
        ("./src/*.py", "src/app.py", True),
        ("test_?.py", "tests/test_a.py", True),
        ("[abc].py", "b.py", True),
        ("[!abc].py", "b.py", False),
        ('"**/*.py"', "src/app.py", False),  # Cursor keeps quotes: a quoted glob matches nothing
        ("**/*.{js,ts}", "a.ts", False),  # braces are literal
        ("**/*", "anything/at/all.txt", True),
        ("", "a.py", False),
    ],
)
def test_glob_matching_follows_gitignore_like_cursor(
    pattern: str, path: str, matches: bool
) -> None:
    assert glob_matches(pattern, path) is matches


RULES = {
    "always.mdc": read_rule(b"---\nalwaysApply: true\n---\nAlways text.\n"),
    "py.mdc": read_rule(b"---\nglobs: src/**/*.py, scripts/*.sh\n---\nPython.\n"),
    "quoted.mdc": read_rule(b'---\nglobs: "**/*.py"\n---\nNever attaches.\n'),
    "yaml.mdc": read_rule(b"---\nglobs: **/*.yaml\n---\nYAML.\n"),
    "ask.mdc": read_rule(b"---\ndescription: Deployment checklist\n---\nSteps.\n"),
    "manual.mdc": read_rule(b"---\ndescription:\nglobs:\n---\nBy hand.\n"),
    "string-true.mdc": read_rule(b'---\ndescription: d\nalwaysApply: "true"\n---\nNot always.\n'),
}


def test_explain_file_gives_each_rule_its_reason_attached_first() -> None:
    verdicts = explain_file(RULES, "src/api/app.py")
    assert [(v.name, v.how, v.glob) for v in verdicts] == [
        ("always.mdc", How.ALWAYS, ""),
        ("py.mdc", How.GLOB, "src/**/*.py"),
        ("ask.mdc", How.REQUESTABLE, ""),
        ("string-true.mdc", How.REQUESTABLE, ""),  # classified as Cursor does: not Always
        ("manual.mdc", How.MANUAL, ""),
        ("quoted.mdc", How.NOT_ATTACHED, ""),
        ("yaml.mdc", How.NOT_ATTACHED, ""),
    ]
    assert verdicts[1].why == "glob `src/**/*.py` matched"
    assert verdicts[2].why.startswith("description only: requestable")
    assert verdicts[4].why.startswith("manual")


def test_token_estimate_is_a_quarter_per_ascii_character_and_one_per_hangul_syllable() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("한국어") == 3
    assert estimate_tokens("로그 logs") == 2 + 2  # two syllables; " logs" is 5 ASCII characters


def test_always_on_counts_always_text_and_requestable_descriptions_largest_first() -> None:
    costs = always_on(RULES)
    assert [(c.name, c.loads) for c in costs] == [
        ("ask.mdc", "description"),  # "Deployment checklist": 20 characters, 5 tokens
        ("always.mdc", "full text"),  # "Always text.": 12 characters, 3 tokens
        ("string-true.mdc", "description"),
    ]
    assert [(c.bytes, c.tokens) for c in costs] == [(20, 5), (12, 3), (1, 1)]


# The command, end to end, on the bundled library.


@pytest.fixture
def enterprise_project(repo: Path) -> Path:
    (repo / ".rulesync.yaml").write_text("phase: enterprise\n")
    return repo


def attached(project: Path, path: str, *extra: str) -> dict[str, str]:
    doc = json.loads(rulesync(project, "explain", "--json", *extra, path, check=0).stdout)
    return {r["name"]: r["why"] for r in doc["rules"] if r["attached"]}


ENTERPRISE_ALWAYS = {"project-overview.mdc", "face-data-privacy.mdc", "security-enterprise.mdc"}


def test_bundled_enterprise_rules_for_a_python_api_file(enterprise_project: Path) -> None:
    got = attached(enterprise_project, "src/api/app.py")
    assert set(got) == ENTERPRISE_ALWAYS | {"inference-api.mdc", "security.mdc", "logging.mdc"}
    assert got["inference-api.mdc"] == "glob `src/**/api/**/*.py` matched"
    assert got["logging.mdc"] == "glob `src/**/*.py` matched"
    assert got["project-overview.mdc"] == "always (alwaysApply: true)"


def test_bundled_enterprise_rules_for_a_kubernetes_manifest(enterprise_project: Path) -> None:
    got = attached(enterprise_project, "k8s/deploy.yaml")
    assert set(got) == ENTERPRISE_ALWAYS | {"deployment-scale.mdc"}


def test_bundled_rules_for_a_plain_readme_are_the_always_rules(enterprise_project: Path) -> None:
    assert set(attached(enterprise_project, "README.md")) == ENTERPRISE_ALWAYS
    basic = attached(enterprise_project, "README.md", "--tier", "basic")
    assert set(basic) == {"project-overview.mdc", "face-data-privacy.mdc"}


def test_explain_text_names_the_tier_and_each_reason(enterprise_project: Path) -> None:
    sub = enterprise_project / "src" / "api"
    sub.mkdir(parents=True)
    out = rulesync(sub, "explain", "app.py", check=0).stdout  # relative to where it runs
    assert out.splitlines()[0] == "src/api/app.py: tier enterprise"
    assert "inference-api.mdc" in out and "glob `src/**/api/**/*.py` matched  [from basic]" in out
    assert "requestable:" in out and "not attached:" in out


def test_budget_lists_each_always_on_rule_sorted_with_the_total_and_every_tier(
    enterprise_project: Path,
) -> None:
    doc = json.loads(rulesync(enterprise_project, "explain", "--json", check=0).stdout)
    assert doc["tier"] == "enterprise"
    tokens = [r["tokens"] for r in doc["rules"]]
    assert tokens == sorted(tokens, reverse=True)
    assert doc["total"]["tokens"] == sum(tokens)
    assert {r["name"] for r in doc["rules"] if r["loads"] == "full text"} == ENTERPRISE_ALWAYS
    assert [t["name"] for t in doc["tiers"]] == ["basic", "advanced", "enterprise"]
    assert doc["tiers"][2]["tokens"] == doc["total"]["tokens"]
    text = rulesync(enterprise_project, "explain", check=0).stdout
    assert f"{doc['total']['tokens']:>7,} {doc['total']['bytes']:>7,}  total" in text


# The command on a crafted library: excludes, --tier, budget and bad input.


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    project = make_repo(tmp_path / "crafted")
    lib = project / "rules-lib"
    for tier in ("one", "two"):
        (lib / tier).mkdir(parents=True)
    (lib / "tiers.yaml").write_text(
        "budget: {always_tokens: 5}\ntiers:\n  - name: one\n  - name: two\n    extends: one\n"
    )
    (lib / "one" / "core.mdc").write_text("---\nalwaysApply: true\n---\n" + "x" * 40 + "\n")
    (lib / "one" / "web.mdc").write_text("---\nglobs: *.html, static/**\n---\nWeb.\n")
    (lib / "one" / "extra.mdc").write_text("---\nalwaysApply: true\n---\nExtra.\n")
    (lib / "two" / "web.mdc").write_text("---\nglobs: web/**/*.html\n---\nWeb, tier two.\n")
    (project / ".rulesync.yaml").write_text("phase: one\nlibrary: rules-lib\nexclude: [extra]\n")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "library")
    return project


def test_crafted_library_uses_the_project_tier_its_excludes_and_another_tier(
    crafted: Path,
) -> None:
    assert attached(crafted, "static/css/site.css") == {
        "core.mdc": "always (alwaysApply: true)",
        "web.mdc": "glob `static/**` matched",
    }
    assert attached(crafted, "pages/index.html") == {
        "core.mdc": "always (alwaysApply: true)",
        "web.mdc": "glob `*.html` matched",
    }
    # Tier two replaces web.mdc with a narrower glob.
    assert set(attached(crafted, "pages/index.html", "--tier", "two")) == {"core.mdc"}
    doc = json.loads(rulesync(crafted, "explain", "--json", "web/a.html", "--tier", "two").stdout)
    [web] = [r for r in doc["rules"] if r["name"] == "web.mdc"]
    assert web["from"] == "two" and web["attached"]


def test_crafted_library_budget_marks_the_tiers_over_it(crafted: Path) -> None:
    out = rulesync(crafted, "explain", check=0).stdout
    assert "     10      40  core.mdc (full text)" in out
    assert "extra.mdc" not in out  # excluded by the project
    assert "one                   10 tokens      40 bytes  over the budget of 5" in out


def test_explain_refuses_an_unknown_tier_a_path_outside_and_no_project(
    crafted: Path, tmp_path: Path
) -> None:
    assert "no such tier" in rulesync(crafted, "explain", "--tier", "gold", check=2).stderr
    outside = rulesync(crafted, "explain", str(tmp_path / "elsewhere.py"), check=2)
    assert "not inside the project" in outside.stderr
    (tmp_path / "plain").mkdir()
    assert ".rulesync.yaml" in rulesync(tmp_path / "plain", "explain", check=2).stderr


# Per target: each assistant gets a rule of each type its own way.

TARGETS = ["cursor", "claude", "copilot", "agents", "devin"]


@pytest.fixture
def targeted(tmp_path: Path) -> Path:
    project = make_repo(tmp_path / "targeted")
    lib = project / "rules-lib" / "one"
    lib.mkdir(parents=True)
    (lib.parent / "tiers.yaml").write_text("tiers:\n  - name: one\n")
    (lib / "always.mdc").write_text("---\nalwaysApply: true\n---\n" + "a" * 40 + "\n")
    (lib / "py.mdc").write_text("---\nglobs: src/**/*.py\n---\n" + "p" * 80 + "\n")
    (lib / "ask.mdc").write_text("---\ndescription: Deploy steps\n---\n" + "s" * 20 + "\n")
    (lib / "manual.mdc").write_text("---\ndescription:\nglobs:\n---\nBy hand.\n")
    (project / ".rulesync.yaml").write_text(
        f"phase: one\nlibrary: rules-lib\ntargets: [{', '.join(TARGETS)}]\n"
    )
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "library")
    return project


def reasons(project: Path, *args: str) -> dict[str, dict[str, str]]:
    doc = json.loads(rulesync(project, "explain", "--json", *args).stdout)
    return {t["name"]: {r["name"]: r["how"] for r in t["rules"]} for t in doc["targets"]}


CURSOR_LIKE = {"always.mdc": "always", "ask.mdc": "requestable", "manual.mdc": "manual"}
CLAUDE = {**CURSOR_LIKE, "py.mdc": "glob"}


def test_each_target_says_how_its_assistant_gets_each_rule_for_a_matching_file(
    targeted: Path,
) -> None:
    doc = json.loads(rulesync(targeted, "explain", "--json", "src/app.py").stdout)
    assert [t["name"] for t in doc["targets"]] == TARGETS
    assert doc["target"] == "cursor" and doc["rules"] == doc["targets"][0]["rules"]
    assert reasons(targeted, "src/app.py") == {
        # Cursor reads AGENTS.md too: the Always rule is in both (its .mdc stays the
        # library's byte for byte, and AGENTS.md must carry it for Codex).
        "cursor": {**CURSOR_LIKE, "always.mdc": "loaded twice", "py.mdc": "glob"},
        # Claude Code and Devin Desktop read the Always rule from AGENTS.md: not written
        # again in their own folders, so loaded once.
        "claude": CLAUDE,
        "devin": {**CURSOR_LIKE, "py.mdc": "glob"},
        # VS Code reads copilot-instructions.md, AGENTS.md and .claude/rules.
        "copilot": {
            "always.mdc": "loaded twice",
            "ask.mdc": "requestable",
            "py.mdc": "loaded twice",
            "manual.mdc": "manual",
        },
        # AGENTS.md gives Always rules in full and lists the others for the model to read.
        "agents": {**CURSOR_LIKE, "py.mdc": "requestable"},
    }
    assert not (targeted / ".claude/rules/always.md").exists()  # explain writes nothing
    [claude] = [t for t in doc["targets"] if t["name"] == "claude"]
    [ask] = [r for r in claude["rules"] if r["name"] == "ask.mdc"]
    assert not ask["attached"] and ask["why"].startswith("description only: requestable")
    [agents] = [t for t in doc["targets"] if t["name"] == "agents"]
    [py] = [r for r in agents["rules"] if r["name"] == "py.mdc"]
    assert not py["attached"] and "`src/**/*.py` matched: the model is told to read it" in py["why"]
    # The matrix: every enabled assistant, and the ones that read only AGENTS.md.
    assistants = {a["name"]: {r["name"]: r["how"] for r in a["rules"]} for a in doc["assistants"]}
    assert list(assistants) == [
        "Cursor",
        "Claude Code",
        "Copilot (VS Code)",
        "Codex",
        "Devin Desktop",
        "Zed",
        "Junie",
        "Jules",
        "Antigravity",
    ]
    # Zed reads the first of its list: copilot-instructions.md hides AGENTS.md.
    assert assistants["Zed"] == {
        "always.mdc": "always",
        "py.mdc": "shadowed",
        "ask.mdc": "shadowed",
        "manual.mdc": "shadowed",
    }
    text = rulesync(targeted, "explain", "src/app.py").stdout
    assert "Copilot (VS Code): py.mdc loaded twice (" in text
    assert "Zed: py.mdc shadowed (AGENTS.md)" in text


def test_without_agents_md_each_assistant_reads_its_own_files_and_the_glob_rule_stays_out(
    tmp_path: Path,
) -> None:
    project = make_repo(tmp_path / "solo")
    lib = project / "rules-lib" / "one"
    lib.mkdir(parents=True)
    (lib.parent / "tiers.yaml").write_text("tiers:\n  - name: one\n")
    (lib / "always.mdc").write_text("---\nalwaysApply: true\n---\nAlways.\n")
    (lib / "py.mdc").write_text("---\nglobs: src/**/*.py\n---\nPython.\n")
    (project / ".rulesync.yaml").write_text(
        "phase: one\nlibrary: rules-lib\ntargets: [cursor, devin]\n"
    )
    got = reasons(project, "docs/readme.md")
    assert got == {
        "cursor": {"always.mdc": "always", "py.mdc": "not attached"},
        "devin": {"always.mdc": "always", "py.mdc": "not attached"},
    }
    text = rulesync(project, "explain", "--target", "devin", "docs/readme.md").stdout
    assert text.splitlines()[0] == "docs/readme.md: tier one"
    assert "  py.mdc" in text and "globs did not match" in text


def test_the_budget_is_what_each_assistant_loads_on_every_request(targeted: Path) -> None:
    doc = json.loads(rulesync(targeted, "explain", "--json").stdout)
    budgets = {t["name"]: t for t in doc["targets"]}
    assert list(budgets) == TARGETS
    loads = {n: {r["name"]: r["loads"] for r in b["rules"]} for n, b in budgets.items()}
    # Every file an assistant reads whole counts, whoever it is written for.
    assert loads["cursor"] == {
        "AGENTS.md": "whole",
        "always.mdc": "full text",
        "ask.mdc": "description",
    }
    # Claude Code: the skill's description is in every session, its body when it fits.
    assert loads["claude"] == {"AGENTS.md": "whole", "ask.mdc": "description"}
    assert loads["devin"] == loads["claude"]
    assert loads["copilot"] == {
        "AGENTS.md": "whole",
        ".github/copilot-instructions.md": "whole",
        "ask.mdc": "description",
    }
    assert loads["agents"] == {"AGENTS.md": "whole"}
    assert not (targeted / "AGENTS.md").exists()  # explain renders; it writes nothing
    tokens = {n: b["total"]["tokens"] for n, b in budgets.items()}
    assert budgets["agents"]["tiers"] == [
        {"name": "one", "bytes": budgets["agents"]["total"]["bytes"], "tokens": tokens["agents"]}
    ]
    assert tokens["cursor"] == tokens["agents"] + 10 + 3  # 40 characters; "Deploy steps"
    assert doc["total"] == budgets["cursor"]["total"]  # the first target's at the top level
    # The budget is the bytes of the files apply writes, marker lines and all.
    rulesync(targeted, "apply")
    agents_md = len((targeted / "AGENTS.md").read_bytes())
    instructions = len((targeted / ".github/copilot-instructions.md").read_bytes())
    assert budgets["agents"]["total"]["bytes"] == agents_md
    assert budgets["copilot"]["total"]["bytes"] == agents_md + instructions + len("Deploy steps")
    text = rulesync(targeted, "explain", "--target", "agents").stdout
    assert "AGENTS.md (whole)" in text


def test_target_option_explains_one_target_and_refuses_an_unknown_one(targeted: Path) -> None:
    assert reasons(targeted, "--target", "claude", "src/app.py") == {"claude": CLAUDE}
    text = rulesync(targeted, "explain", "--target", "claude").stdout
    assert text.splitlines()[0].startswith("tier one: loaded on every request")
    assert "target cursor:" not in text and "assistant Cursor:" not in text
    error = rulesync(targeted, "explain", "--target", "emacs", check=2).stderr
    assert (
        "emacs" in error
        and "agents, claude, cline, copilot, cursor, devin, kiro, windsurf" in error
    )


def test_the_budget_counts_the_users_own_always_rules_in_cursor_rules(
    enterprise_project: Path,
) -> None:
    rules = enterprise_project / ".cursor/rules"
    rules.mkdir(parents=True)
    (rules / "house-style.mdc").write_text("---\nalwaysApply: true\n---\n" + "h" * 400 + "\n")
    (rules / "web.mdc").write_text("---\nglobs: web/**\n---\nWeb only.\n")
    doc = json.loads(rulesync(enterprise_project, "explain", "--json").stdout)
    [cursor] = doc["assistants"]
    loads = {r["name"]: (r["loads"], r["bytes"]) for r in cursor["rules"]}
    assert loads[".cursor/rules/house-style.mdc"] == ("full text", 400)
    assert ".cursor/rules/web.mdc" not in loads  # scoped: not on every request
    assert set(loads) >= ENTERPRISE_ALWAYS
    text = rulesync(enterprise_project, "explain").stdout
    assert "  .cursor/rules/house-style.mdc (full text)" in text


def test_copilot_is_explained_from_its_apply_to_in_its_own_dialect(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "copilot")
    lib = project / "rules-lib" / "one"
    lib.mkdir(parents=True)
    (lib.parent / "tiers.yaml").write_text("tiers:\n  - name: one\n")
    (lib / "ts.mdc").write_text("---\nglobs: **/*.ts, **/*.tsx\n---\nTypeScript.\n")
    (lib / "root.mdc").write_text("---\nglobs: /setup.py\n---\nSetup.\n")
    (project / ".rulesync.yaml").write_text(
        "phase: one\nlibrary: rules-lib\ntargets: [cursor, copilot]\n"
    )
    rulesync(project, "apply")
    text = (project / ".github/instructions/ts.instructions.md").read_text()
    assert 'applyTo: "**/*.ts,**/*.tsx"' in text
    doc = json.loads(
        rulesync(project, "explain", "--json", "--target", "copilot", "src/app.tsx").stdout
    )
    got = {r["name"]: (r["how"], r["glob"]) for r in doc["rules"]}
    assert got["ts.mdc"] == ("glob", "**/*.tsx")
    # Cursor's leading `/` only anchors; Copilot reads `setup.py` from the root as written.
    assert (
        'applyTo: "setup.py"' in (project / ".github/instructions/root.instructions.md").read_text()
    )
    doc = json.loads(
        rulesync(project, "explain", "--json", "--target", "copilot", "setup.py").stdout
    )
    assert {r["name"]: r["how"] for r in doc["rules"]}["root.mdc"] == "glob"
