"""`rulesync fleet` over many repositories served by a real `git daemon` on 127.0.0.1: in
sync, behind the library, drifted, in conflict, deferred (a local clone mid-merge) and
unreachable (a host that accepts and never answers). The HTML page is opened in headless
Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.gitserver import git_daemon, silent_server
from support.repos import git, make_repo, rulesync
from tests.test_remote_library import Remote

RULES = Path(".cursor/rules")
CHROMIUM = Path("/usr/bin/chromium")


class Fleet:
    """A team library and one template project whose history holds every state a repository
    can be in (each a tag); each served repository is the template pushed at one tag."""

    def __init__(self, tmp: Path, served: Path, prefix: str) -> None:
        self.tmp, self.served, self.prefix = tmp, served, prefix
        self.library = Remote(served)
        self.spec = f"{prefix}/{self.library.bare.name}#main"
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"libraries: ['{prefix}/{self.library.bare.name}']\n")
        self.old = self.library.head()
        t = self.template = make_repo(tmp / "template")
        (t / ".rulesync.yaml").write_text(f"phase: advanced\nlibrary: '{self.spec}'\n")
        rulesync(t, "apply", check=0)
        git(t, "tag", "behind")
        self.new = self.library.commit_and_push(
            "advanced/monitoring.mdc", "---\ndescription: m\n---\nv2\n"
        )
        rulesync(t, "apply", "--update", check=0)
        git(t, "tag", "advanced")
        self.set_phase("basic")
        git(t, "tag", "basic")
        self.set_phase("enterprise")
        git(t, "tag", "enterprise")
        git(t, "checkout", "-q", "advanced")
        (t / ".rulesync.yaml").write_text(f"phase: enterprise\nlibrary: '{self.spec}'\n")
        git(t, "commit", "-qam", "enterprise, not applied yet")
        git(t, "tag", "drifted")
        git(t, "checkout", "-q", "advanced")
        (t / RULES / "monitoring.mdc").write_text("our own monitoring rule\n")
        git(t, "commit", "-qam", "edit a managed rule")
        git(t, "tag", "conflict")
        git(t, "checkout", "-q", "main")

    def set_phase(self, phase: str) -> None:
        (self.template / ".rulesync.yaml").write_text(f"phase: {phase}\nlibrary: '{self.spec}'\n")
        rulesync(self.template, "apply", check=0)

    def subject(self, tag: str) -> str:
        return git(self.template, "log", "-1", "--author=rulesync", "--format=%s", tag).strip()

    def serve(self, name: str, tag: str) -> str:
        bare = self.served / f"{name}.git"
        git(self.tmp, "init", "-q", "--bare", "-b", "main", str(bare))
        git(self.template, "push", "-q", str(bare), f"{tag}^{{commit}}:refs/heads/main")
        return f"{self.prefix}/{name}.git"

    def deferred_clone(self) -> Path:
        """A local clone in the middle of a merge, whose marker changed meanwhile."""
        url = self.serve("deferred-origin", "advanced")
        clone = self.tmp / "deferred"
        git(self.tmp, "clone", "-q", url, str(clone))
        (clone / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: '{self.spec}'\n")
        (clone / ".git" / "MERGE_HEAD").write_text(git(clone, "rev-parse", "HEAD"))
        return clone


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    served = tmp_path / "served"
    served.mkdir()
    with git_daemon(served) as prefix:
        yield Fleet(tmp_path, served, prefix)


def expected(fleet: Fleet, tag: str, path: str) -> dict[str, Any]:
    tiers = {"advanced": "advanced", "basic": "basic", "enterprise": "enterprise"}
    tier = tiers.get(tag, "advanced")
    nxt = {"basic": "advanced", "advanced": "enterprise", "enterprise": None}[tier]
    sha = git(fleet.template, "log", "-1", "--author=rulesync", "--format=%H", tag).strip()
    return {
        "path": path,
        "state": {"drifted": "drift", "conflict": "conflict"}.get(tag, "in sync"),
        "phase": "enterprise" if tag == "drifted" else tier,
        "tier": "enterprise" if tag == "drifted" else tier,
        "library": fleet.spec,
        "library_revision": fleet.old if tag == "behind" else fleet.new,
        "library_newest": fleet.new,
        "behind": 1 if tag == "behind" else 0,
        "next_tier": None if tag == "drifted" else nxt,
        "ready": None if tag == "drifted" or nxt is None else False,
        "source": "git",
        "last_sync": None,
        "last_commit": {"sha": sha, "subject": fleet.subject(tag)},
    }


def build(fleet: Fleet, count: int) -> tuple[list[str], list[dict[str, Any]]]:
    """`count` repositories: one each behind, drifted, in conflict, deferred and unreachable,
    the rest in sync on one of three tiers."""
    special = ["behind", "drifted", "conflict"]
    tags = special + [("advanced", "basic", "enterprise")[i % 3] for i in range(count - 5)]
    repositories, wanted = [], []
    for index, tag in enumerate(tags):
        url = fleet.serve(f"repo-{index:03d}", tag)
        repositories.append(url)
        wanted.append(expected(fleet, tag, url))
    clone = fleet.deferred_clone()
    repositories.append(str(clone))
    deferred = expected(fleet, "advanced", str(clone))
    deferred.update(state="deferred", phase="basic", tier="basic", next_tier="advanced")
    deferred["source"] = "computed"
    wanted.append(deferred)
    return repositories, wanted


def check_line(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key, value in want.items():
        if key == "last_commit":
            assert got[key]["sha"] == value["sha"], got["path"]
            assert got[key]["subject"] == value["subject"], got["path"]
        else:
            assert got[key] == value, (got["path"], key)
    if want["state"] == "in sync":
        assert got["why"] == ""


@pytest.mark.parametrize("count", [8, pytest.param(50, marks=pytest.mark.slow)])
def test_fleet_reports_each_repository(fleet: Fleet, tmp_path: Path, count: int) -> None:
    repositories, wanted = build(fleet, count)
    with silent_server() as hung:
        unreachable = f"git://{hung}/nobody.git"
        proc = rulesync(tmp_path, "fleet", "--json", "--timeout", "3", *repositories, unreachable)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    lines = doc["repositories"]
    assert len(lines) == count
    for got, want in zip(lines, wanted, strict=False):
        check_line(got, want)
    assert lines[-1]["path"] == unreachable and lines[-1]["state"] == "unreachable"
    assert "did not finish within 3 s" in lines[-1]["why"]
    assert lines[-1]["tier"] is None and lines[-1]["library"] is None
    assert "merge is in progress" in lines[-2]["why"]
    # behind, drifted, conflict, deferred, unreachable
    assert doc["attention"] == 5
    # Read-only: nothing of any repository changed.
    assert git(Path(repositories[-1]), "status", "--porcelain") == " M .rulesync.yaml\n"
    assert (Path(repositories[-1]) / ".git" / "MERGE_HEAD").exists()


def test_fleet_exits_0_when_every_repository_is_current(fleet: Fleet, tmp_path: Path) -> None:
    urls = [fleet.serve(f"ok-{i}", tag) for i, tag in enumerate(("advanced", "basic"))]
    proc = rulesync(tmp_path, "fleet", *urls, check=0)
    assert "2 repositories, 0 need attention" in proc.stdout
    assert f"library {fleet.spec} @ {fleet.new[:12]}" in proc.stdout


def test_fleet_needs_repositories(tmp_path: Path) -> None:
    proc = rulesync(tmp_path, "fleet", check=2)
    assert "--registry" in proc.stderr


def test_projects_list_and_fleet_share_one_report(fleet: Fleet, tmp_path: Path) -> None:
    clone = tmp_path / "registered"
    git(tmp_path, "clone", "-q", fleet.serve("registered", "behind"), str(clone))
    rulesync(clone, "projects", "add", str(clone), check=0)
    listed = json.loads(rulesync(clone, "projects", "list", "--json", check=0).stdout)
    fleet_doc = json.loads(rulesync(clone, "fleet", "--registry", "--json", check=1).stdout)
    assert listed["projects"] == fleet_doc["repositories"]
    assert listed["projects"][0]["behind"] == 1


# The HTML page in headless Chromium ---------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed when missing (skipped, saying why, where it cannot be)."""
    if not CHROMIUM.exists():
        if shutil.which("apt-get") is None:
            pytest.skip("chromium is not installed and apt-get is not available")
        steps = (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"])
        for step in steps:
            proc = subprocess.run(
                step,
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
            if proc.returncode != 0:
                pytest.skip(f"chromium could not be installed: {proc.stderr.strip()[-300:]}")
    return CHROMIUM


def headless(chromium: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={home / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


@pytest.mark.slow
def test_the_html_page_shows_the_fleet_and_requests_nothing(
    fleet: Fleet, tmp_path: Path, chromium: Path
) -> None:
    repositories, _ = build(fleet, 12)
    page = tmp_path / "fleet.html"
    rulesync(tmp_path, "fleet", "--html", str(page), *repositories, check=1)
    text = page.read_text()
    # Self-contained: no resource from anywhere (the SVG namespace is a name, not a request).
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text)
    assert not re.search(r"url\(", text)
    assert "<script" not in text and "<link" not in text
    dom = headless(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    rows = re.findall(r"<tr>(.*?)</tr>", dom.stdout.split("<tbody>")[1])
    assert len(rows) == 11
    assert any("drift" in row and "enterprise" in row for row in rows)
    assert any('class="behind">1<' in row for row in rows)
    assert "<svg" in dom.stdout and "11 repositories, 4 need attention" in dom.stdout
    shot = tmp_path / "fleet.png"
    taken = headless(
        chromium, tmp_path, f"--screenshot={shot}", "--window-size=1400,1100", page.as_uri()
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
