"""Readiness from evidence (SPEC §10): metrics measured from the project's real git history
(several authors, back-dated commits, a .mailmap, a bot), its files and a JSON document;
pinned values; `phase: auto`'s settling time and its refusal to demote; bad declarations."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from support.repos import git, make_repo, rulesync, rulesync_commits

DAY = 86400


def commit(repo: Path, who: str, days_ago: float, path: str = "", text: str | None = None) -> None:
    """A real commit by `who` (`Name <email>`), authored and committed `days_ago` days ago,
    appending `text` (by default, the date) to `path` (by default, a file of the author's)."""
    name, _, email = who.partition(" <")
    stamp = f"@{int(time.time() - days_ago * DAY)} +0000"
    target = repo / (path or f"work/{name.lower().replace(' ', '-')}.txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as handle:
        handle.write(f"{stamp}\n" if text is None else text)
    git(repo, "add", "-A")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email.rstrip(">"),
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email.rstrip(">"),
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    import subprocess

    subprocess.run(["git", "commit", "-q", "-m", f"work by {name}"], cwd=repo, env=env, check=True)


ALICE = "Alice Kim <alice@example.com>"
ALICE_OLD = "alice <a.kim@old-laptop.local>"
BOB = "Bob Lee <bob@example.com>"
CAROL = "Carol Park <carol@example.com>"
DAVE = "Dave Choi <dave@example.com>"
BOT = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"
GITHUB_PERSON = "Eun Seo <1234+eunseo@users.noreply.github.com>"


def old_repo(path: Path) -> Path:
    """A real repository whose first commit ("Dev User") is dated 1970-01-01."""
    import subprocess

    repo = make_repo(path)
    old = {**os.environ, "GIT_AUTHOR_DATE": "@0 +0000", "GIT_COMMITTER_DATE": "@0 +0000"}
    amend = ["git", "commit", "-q", "--amend", "--no-edit", "--date=@0 +0000"]
    subprocess.run(amend, cwd=repo, env=old, check=True)
    return repo


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """A project with a real history: five people over a year (one under two addresses,
    joined by .mailmap), a bot, and one person whose last commit is 200 days old."""
    repo = old_repo(tmp_path / "team")
    commit(repo, DAVE, 200)
    commit(repo, ALICE_OLD, 60)
    commit(repo, ALICE, 30)
    commit(repo, BOB, 20)
    commit(repo, CAROL, 10)
    commit(repo, GITHUB_PERSON, 5)
    commit(repo, BOT, 2)
    commit(repo, BOT, 1)
    (repo / ".mailmap").write_text("Alice Kim <alice@example.com> <a.kim@old-laptop.local>\n")
    commit(repo, ALICE, 1, ".mailmap", "\n")
    return repo


def readiness(repo: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(rulesync(repo, "readiness", "--json", check=0).stdout)
    return doc


def criterion(doc: dict[str, Any], metric: str, tier: str | None = None) -> dict[str, Any]:
    for entry in doc["tiers"]:
        if tier is None or entry["tier"] == tier:
            for c in entry["criteria"]:
                if c["metric"] == metric:
                    found: dict[str, Any] = c
                    return found
    raise AssertionError(f"no criterion {metric}")


def own_library(repo: Path, metrics: str, *, criteria: str = "", settle: int = 0) -> None:
    """A library inside the project: basic and advanced, advanced met by any one criterion."""
    lib = repo / "rules"
    for tier in ("basic", "advanced"):
        (lib / tier).mkdir(parents=True, exist_ok=True)
        (lib / tier / f"{tier}.mdc").write_text(f"---\ndescription: {tier}\n---\n{tier} rule\n")
    criteria = criteria or "      - {metric: developers, op: '>=', value: 2}\n"
    (lib / "tiers.yaml").write_text(
        "tiers:\n  - name: basic\n  - name: advanced\n    extends: basic\n    criteria:\n"
        f"{criteria}    promote_when: {{min_groups: 1, group_met: any, settle_days: {settle}}}\n"
        f"metrics:\n{metrics}"
    )


def marker(repo: Path, text: str) -> None:
    (repo / ".rulesync.yaml").write_text(text)


# git ---------------------------------------------------------------------------------------


def test_developers_are_the_distinct_people_of_the_last_90_days(team: Path) -> None:
    marker(team, "phase: basic\n")
    doc = readiness(team)
    developers = criterion(doc, "developers", "advanced")
    # Alice (two addresses, one person by .mailmap), Bob, Carol and the GitHub user with a
    # private address; not Dave (200 days ago), not the bot, not "Dev User" (in 1970).
    assert developers["value"] == 4
    assert developers["source"] == "git: authors in 90 days" and developers["pinned"] is False
    assert developers["state"] == "met" and developers["measured"]
    out = rulesync(team, "readiness", check=0).stdout
    assert "developers = 4 (git: authors in 90 days, " in out


def test_authors_exclude_pattern_and_window_are_the_sources_own(team: Path) -> None:
    own_library(
        team,
        "  developers: {git: authors, days: 365, exclude: 'Carol|\\[bot\\]'}\n",
    )
    marker(team, "phase: basic\nlibrary: rules\n")
    # A year: Dave counts again; Carol is excluded by the pattern, the bot too.
    assert criterion(readiness(team), "developers")["value"] == 4


def test_commits_per_week_age_and_contributors_of_a_path(team: Path) -> None:
    commit(team, BOB, 3, "src/payments/api.py")
    commit(team, CAROL, 2, "src/payments/api.py")
    commit(team, CAROL, 1, "src/other.py")
    own_library(
        team,
        "  commits: {git: commits_per_week, days: 14}\n"
        "  age: {git: age_days}\n"
        "  payers: {git: contributors, path: src/payments}\n",
        criteria=(
            "      - {metric: commits, op: '>=', value: 100}\n"
            "      - {metric: age, op: '>=', value: 100000}\n"
            "      - {metric: payers, op: '>=', value: 5}\n"
        ),
    )
    marker(team, "phase: basic\nlibrary: rules\n")
    doc = readiness(team)
    # 14 days: Carol (10), Eun (5), the bot twice, Alice, Bob, Carol, Carol = 8 commits.
    assert criterion(doc, "commits")["value"] == 4
    assert criterion(doc, "commits")["source"] == "git: commits per week in 14 days"
    # The first commit is dated 1970-01-01.
    assert criterion(doc, "age")["value"] == int(time.time() // DAY)
    assert criterion(doc, "payers")["value"] == 2
    assert criterion(doc, "payers")["source"] == "git: contributors of src/payments"


def test_git_figures_outside_git_are_unknown_never_0(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    marker(folder, "phase: basic\n")
    developers = criterion(readiness(folder), "developers", "advanced")
    assert developers["value"] is None and developers["state"] == "unknown"
    assert developers["note"] == "not a git repository"


def test_measuring_runs_nothing_the_repository_names(team: Path) -> None:
    trap = team.parent / "ran"
    script = team.parent / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {trap}\n")
    script.chmod(0o755)
    git(team, "config", "core.fsmonitor", str(script))
    git(team, "config", "filter.evil.clean", str(script))
    git(team, "config", "filter.evil.smudge", str(script))
    (team / ".gitattributes").write_text("* filter=evil\n")
    git(team, "config", "core.pager", str(script))
    marker(team, "phase: auto\n")
    readiness(team)
    rulesync(team, "apply", check=0)
    assert not trap.exists()


# files and file ----------------------------------------------------------------------------


def test_files_count_folders_presence_and_matching_lines(repo: Path, tmp_path: Path) -> None:
    for name in ("face_recognition", "factory_defect", "powerline"):
        (repo / "src/visionai/domains" / name).mkdir(parents=True)
    (repo / "src/visionai/domains/README.md").write_text("not a folder\n")
    (repo / "deploy/aws/vm").mkdir(parents=True)
    (repo / "deploy/aws/vm/main.tf").write_text('resource "aws_instance" "a" {}\n')
    (repo / "CODEOWNERS").write_text("# owners\n* @alice\nsrc/ @bob\n\n# end\n")
    # A folder outside the project, reached through a symlink: never counted.
    outside = tmp_path / "outside"
    for name in ("x", "y", "z"):
        (outside / "domains" / name).mkdir(parents=True)
    (repo / "src/linked").symlink_to(outside, target_is_directory=True)
    own_library(
        repo,
        "  domains: {files: 'src/*/domains/*/'}\n"
        "  vms: {files: 'deploy/**/*.tf', present: true}\n"
        "  k8s: {files: 'k8s/**', present: true}\n"
        "  owners: {files: CODEOWNERS, pattern: '^[^#\\s]'}\n",
        criteria=(
            "      - {metric: domains, op: '>=', value: 2}\n"
            "      - {metric: vms, op: '>=', value: 1}\n"
            "      - {metric: k8s, op: '==', value: true}\n"
            "      - {metric: owners, op: '>=', value: 9}\n"
        ),
    )
    marker(repo, "phase: basic\nlibrary: rules\n")
    doc = readiness(repo)
    assert criterion(doc, "domains")["value"] == 3
    assert criterion(doc, "domains")["source"] == "files: src/*/domains/*/"
    assert criterion(doc, "vms")["value"] == 1
    assert criterion(doc, "k8s")["value"] is False and criterion(doc, "k8s")["state"] == "not met"
    assert criterion(doc, "owners")["value"] == 2


def test_a_file_source_reads_a_json_document_by_dotted_key(repo: Path, tmp_path: Path) -> None:
    own_library(
        repo,
        "  b2b_customers: {file: ci/metrics.json, key: business.b2b_customers}\n"
        "  regulated: {file: ci/metrics.json, key: business.regulated}\n",
        criteria=(
            "      - {metric: b2b_customers, op: '>=', value: 10}\n"
            "      - {metric: regulated, op: '==', value: true}\n"
        ),
    )
    marker(repo, "phase: basic\nlibrary: rules\n")
    doc = readiness(repo)
    missing = criterion(doc, "b2b_customers")
    assert missing["value"] is None and missing["state"] == "unknown"
    assert "ci/metrics.json is missing" in missing["note"]
    (repo / "ci").mkdir()
    (repo / "ci/metrics.json").write_text(
        json.dumps({"business": {"b2b_customers": 12, "regulated": True}})
    )
    doc = readiness(repo)
    assert criterion(doc, "b2b_customers")["value"] == 12
    assert criterion(doc, "regulated")["value"] is True
    # The same document through a symlink out of the project is never read.
    secret = tmp_path / "elsewhere.json"
    secret.write_text(json.dumps({"business": {"b2b_customers": 99}}))
    (repo / "ci/metrics.json").unlink()
    (repo / "ci/metrics.json").symlink_to(secret)
    assert criterion(readiness(repo), "b2b_customers")["value"] is None
    (repo / "ci/metrics.json").unlink()
    (repo / "ci").rmdir()
    (repo / "ci").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "metrics.json").write_text(json.dumps({"business": {"b2b_customers": 77}}))
    assert criterion(readiness(repo), "b2b_customers")["value"] is None


# pinned ------------------------------------------------------------------------------------


def test_a_value_in_the_marker_pins_the_metric_and_is_shown_pinned(team: Path) -> None:
    marker(team, "phase: basic\nmetrics:\n  developers: 1\n")
    developers = criterion(readiness(team), "developers", "advanced")
    assert developers["value"] == 1 and developers["pinned"] is True
    assert developers["source"] == "pinned in .rulesync.yaml" and developers["state"] == "not met"
    out = rulesync(team, "readiness", check=0).stdout
    assert "developers = 1 (pinned in .rulesync.yaml)" in out


# phase: auto -------------------------------------------------------------------------------


def settling_project(tmp_path: Path, name: str) -> Path:
    """Alice commits every day for 30 days; advanced needs 2 authors in a 5-day window,
    met for 10 days."""
    repo = old_repo(tmp_path / name)
    for days_ago in range(30, 0, -1):
        commit(repo, ALICE, days_ago + 0.5)
    own_library(repo, "  developers: {git: authors, days: 5}\n", settle=10)
    return repo


def apply_auto(repo: Path) -> str:
    marker(repo, "phase: auto\nlibrary: rules\n")
    commit(repo, ALICE, 0, ".rulesync.yaml", "")
    rulesync(repo, "apply", check=0)
    return rulesync_commits(repo)[0]


def test_a_figure_that_crosses_and_falls_back_within_the_settling_time_does_not_promote(
    tmp_path: Path,
) -> None:
    repo = settling_project(tmp_path, "blip")
    commit(repo, BOB, 8)  # two authors in the windows ending 8 to 3 days ago, one now
    assert apply_auto(repo) == "rulesync: install basic rules (+1)"
    doc = readiness(repo)
    assert doc["tier"] == "basic" and doc["tiers"][0]["met"] is False


def test_a_figure_met_for_less_than_the_settling_time_waits(tmp_path: Path) -> None:
    repo = settling_project(tmp_path, "recent")
    commit(repo, BOB, 3)
    assert apply_auto(repo) == "rulesync: install basic rules (+1)"
    advanced = readiness(repo)["tiers"][0]
    assert advanced["met"] is True and advanced["settled"] is False
    assert advanced["days_met"] == 3 and advanced["settle_days"] == 10
    out = rulesync(repo, "readiness", check=0).stdout
    assert "settling: met on each of the last 3 day(s) before today" in out


def test_a_figure_met_for_the_settling_time_promotes_and_the_commit_shows_the_evidence(
    tmp_path: Path,
) -> None:
    repo = settling_project(tmp_path, "steady")
    for days_ago in range(20, 0, -1):
        commit(repo, BOB, days_ago)
    assert apply_auto(repo) == "rulesync: install advanced rules (+2)"
    body = git(repo, "log", "-1", "--format=%B")
    assert "phase: auto selected advanced because:" in body
    assert "  - developers 2 >= 2 (git: authors in 5 days)" in body
    assert "measured:\n  - developers = 2 (git: authors in 5 days, " in body
    assert "Rulesync-Phase: advanced (auto)" in body


def test_phase_auto_never_demotes_by_itself(team: Path) -> None:
    own_library(team, "  developers: {git: authors, days: 90}\n")
    assert apply_auto(team) == "rulesync: install advanced rules (+2)"
    # The figures fall: a pin says one developer now.
    marker(team, "phase: auto\nlibrary: rules\nmetrics: {developers: 1}\n")
    proc = rulesync(team, "apply", check=0)
    assert rulesync_commits(team)[0] == "rulesync: install advanced rules (+2)"
    assert (team / ".cursor/rules/advanced.mdc").exists(), proc.stdout
    doc = readiness(team)
    assert doc["tier"] == "advanced" and doc["would_demote"] == "basic"
    out = rulesync(team, "readiness", check=0).stdout
    assert "the figures point to basic; `phase: auto` never demotes by itself" in out
    # A person moves it down.
    marker(team, "phase: basic\nlibrary: rules\n")
    rulesync(team, "apply", check=0)
    assert rulesync_commits(team)[0].startswith("rulesync: phase advanced → basic")


def test_files_history_comes_from_the_commit_of_each_day(tmp_path: Path) -> None:
    repo = old_repo(tmp_path / "domains")
    marker(repo, "phase: basic\nlibrary: rules\n")
    own_library(
        repo,
        "  domains: {files: 'src/*/domains/*/'}\n",
        criteria="      - {metric: domains, op: '>=', value: 2}\n",
        settle=4,
    )
    commit(repo, ALICE, 10, "src/app/domains/face/x.py")
    commit(repo, ALICE, 6, "src/app/domains/plate/x.py")
    doc_then = readiness(repo)["tiers"][0]
    assert doc_then["met"] is True and doc_then["days_met"] == 4 and doc_then["settled"]
    # Today a third domain in the work tree, uncommitted: counted now, not in the past.
    (repo / "src/app/domains/text").mkdir()
    assert criterion(readiness(repo), "domains")["value"] == 3


# bad declarations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{gti: authors}", "unknown key `gti` (did you mean `git`?)"),
        ("{git: authors, files: x}", "give exactly one source kind"),
        ("{days: 3}", "give exactly one source kind"),
        ("{git: writers}", "unknown git figure `writers`"),
        ("{prometheus: 'sum(rate(x[5m])'}", "unclosed bracket"),
        ("{prometheus: 'up{job=\"a}'}", 'unclosed " quote'),
        ("{prometheus: 'sum(x))'}", "unbalanced `)`"),
        ("{prometheus: ''}", "prometheus must be a PromQL query"),
        ("{files: '../other/*'}", "`..`: it would leave the project"),
        ("{files: /etc/*}", "an absolute path"),
        ("{files: 'a/.git/config'}", "git's own files are never read"),
        ("{file: ../secrets.json, key: a}", "`..`: it would leave the project"),
        ("{file: metrics.json}", "needs `key`"),
        ("{git: authors, days: 0}", "days must be a whole number ≥ 1"),
        ("{git: authors, days: ten}", "days must be a whole number ≥ 1"),
        ("{git: authors, days: 9000}", "`days` is at most 3650"),
        ("{git: authors, present: true}", "`present` goes with `files`"),
        ("{git: contributors}", "`path` goes with git: contributors"),
        ("{files: x, pattern: '(['}", "not a regular expression"),
    ],
)
def test_a_bad_source_is_a_file_line_error_with_exit_2(
    repo: Path, entry: str, message: str
) -> None:
    own_library(repo, f"  developers: {entry}\n")
    marker(repo, "phase: auto\nlibrary: rules\n")
    for command in ("readiness", "apply"):
        proc = rulesync(repo, command, check=2)
        assert f"{repo / 'rules' / 'tiers.yaml'}:9:" in proc.stderr, proc.stderr
        assert message in proc.stderr
    assert not (repo / ".cursor").exists()


def test_a_source_for_a_metric_no_criterion_names_is_refused(repo: Path) -> None:
    own_library(repo, "  developpers: {git: authors}\n")
    marker(repo, "phase: basic\nlibrary: rules\n")
    proc = rulesync(repo, "readiness", check=2)
    assert "tiers.yaml:9: metric `developpers` is named by no criterion" in proc.stderr
    assert "did you mean `developers`?" in proc.stderr


def test_a_bad_prometheus_url_in_the_marker_is_a_file_line_error(repo: Path) -> None:
    marker(repo, "phase: basic\nprometheus: ftp://u:secret@host/\n")
    proc = rulesync(repo, "readiness", check=2)
    assert ".rulesync.yaml:2: prometheus 'ftp://host/' is not usable" in proc.stderr
    assert "secret" not in proc.stderr


def test_outside_git_the_past_comes_from_the_record_of_measurements(tmp_path: Path) -> None:
    """A project outside git has no history: the figures rulesync recorded on earlier days
    (its state folder) decide the settling time."""
    from rulesync.evidence import record_path

    folder = tmp_path / "plain"
    folder.mkdir()
    own_library(
        folder,
        "  b2b_customers: {file: metrics.json, key: b2b_customers}\n",
        criteria="      - {metric: b2b_customers, op: '>=', value: 10}\n",
        settle=3,
    )
    marker(folder, "phase: auto\nlibrary: rules\n")
    (folder / "metrics.json").write_text('{"b2b_customers": 12}')
    advanced = readiness(folder)["tiers"][0]
    assert advanced["met"] is True and advanced["days_met"] == 0
    record = record_path(folder)
    doc = json.loads(record.read_text())
    key = "b2b_customers file: metrics.json b2b_customers"
    assert [p[1] for p in doc["metrics"][key]] == [12]
    # Recorded on each of the last four days: 9 four days ago, then 11 and 12.
    now = time.time()
    earlier = [[now - 4 * DAY, 9], [now - 3 * DAY, 11], [now - 2 * DAY, 11], [now - DAY, 12]]
    doc["metrics"][key] = earlier + doc["metrics"][key]
    record.write_text(json.dumps(doc))
    # Met on each of the 3 days before today: `phase: auto` selects advanced.
    assert readiness(folder)["tier"] == "advanced"
    rulesync(folder, "apply", check=0)
    assert (folder / ".cursor/rules/advanced.mdc").exists()


def test_projects_list_shows_the_readiness_the_evidence_gives(team: Path) -> None:
    own_library(team, "  developers: {git: authors, days: 90}\n")
    marker(team, "phase: basic\nlibrary: rules\n")
    rulesync(team, "apply", check=0)
    rulesync(team, "projects", "add", str(team), check=0)
    # No metric is pinned in the marker: the four people of the last 90 days meet advanced.
    listed = rulesync(team, "projects", "list", check=None).stdout
    assert "    readiness: advanced: met\n" in listed
    [line] = json.loads(rulesync(team, "projects", "list", "--json", check=None).stdout)["projects"]
    assert (line["next_tier"], line["ready"], line["readiness"]) == (
        "advanced",
        True,
        "advanced: met",
    )
