"""Crash safety (SPEC §3 item 4): SIGKILL during a large apply, then the next apply converges."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rulesync.fsutil import TMP_MARK
from support.repos import RULESYNC, git, make_corpus_library, make_repo, rulesync

RULES = Path(".cursor/rules")
MINE = b"---\ndescription: the user's own rule\n---\nnever lose me\n"


def leftovers(rules: Path) -> list[str]:
    return [n for n in os.listdir(rules) if TMP_MARK in n] if rules.exists() else []


# 24 applies of 1,120 rules, each killed and followed by a full apply: about a minute.
@pytest.mark.slow
def test_sigkill_at_many_points_during_a_large_apply_then_apply_converges(
    tmp_path: Path, corpus: Path
) -> None:
    lib = make_corpus_library(corpus, tmp_path / "lib", variants=2)
    project = make_repo(tmp_path / "project")
    (project / RULES).mkdir(parents=True)
    (project / RULES / "mine.mdc").write_bytes(MINE)
    (project / ".rulesync.yaml").write_text(f"phase: big\nlibrary: {lib}\n")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"libraries: [{lib}]\n")

    # Kill delays are drawn within the length of an uninterrupted run measured here, so the
    # kills land mid-way on a fast machine and on a loaded one alike.
    started = time.monotonic()
    rulesync(project, "apply", check=0)
    full_run = time.monotonic() - started
    rng = random.Random(20261126)
    kills = 0
    phases = ["big2", "big"]
    for trial in range(24):
        phase = phases[trial % 2]
        (project / ".rulesync.yaml").write_text(f"phase: {phase}\nlibrary: {lib}\n")
        proc = subprocess.Popen(
            [*RULESYNC, "apply"], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.05, 0.9) * full_run)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        assert (project / RULES / "mine.mdc").read_bytes() == MINE
        # Every rule file on disk is whole: the old or the new version, never a mix.
        for name in os.listdir(project / RULES):
            if name.endswith(".mdc") and name != "mine.mdc":
                data = (project / RULES / name).read_bytes()
                original = (lib / "big" / name).read_bytes()
                assert data in (original, original + b"\n<!-- variant -->\n"), name

        rulesync(project, "apply", check=0)
        rulesync(project, "check", check=0)
        assert leftovers(project / RULES) == []
        status = git(project, "status", "--porcelain", "--", ".cursor", ".rulesync.yaml")
        assert status == "?? .cursor/rules/mine.mdc\n"  # everything else committed
        assert (project / RULES / "mine.mdc").read_bytes() == MINE
    assert kills > 0, "no run was killed mid-way: the trial tried nothing"
    assert "mine.mdc" not in git(project, "log", "--name-only", "--format=")
