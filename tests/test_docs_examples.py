"""The getting-started guide's sessions run as printed for a new user: a fresh HOME that gets
only the PATH line and the git identity the guide gives, then each `console` block's commands
in a shell, their output compared line by line with the page (`…` stands for lines left out;
the home folder and commit ids are the user's own). The README's session is part of it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.repos import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "getting-started.md"
README = REPO_ROOT / "README.md"
DOC_HOME = "/home/me"
SEPARATOR = "\x1e"  # printed before each command's output


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def session(block: str) -> list[tuple[str, list[str]]]:
    """A console block's commands, each with the output lines printed under it."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def normalised(line: str, home: str) -> str:
    line = line.replace(home, DOC_HOME)
    return re.sub(r"\b[0-9a-f]{7,40}\b", "<id>", line)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether `actual` is `expected` with each `…` line standing for any lines."""
    pattern = "".join(
        r"(?:.*\n)*?" if line.strip() == "…" else re.escape(line) + r"\n" for line in expected
    )
    return re.fullmatch(pattern, "".join(f"{line}\n" for line in actual)) is not None


@pytest.fixture
def new_user(tmp_path: Path) -> dict[str, str]:
    """A new user's environment, with what the guide says to set up and nothing more: the
    launcher in ~/.local/bin, the guide's PATH line and its git identity commands."""
    rulesync = Path(sys.executable).parent / "rulesync"
    if not rulesync.exists():
        pytest.skip("the `rulesync` command is not installed beside this Python")
    home = tmp_path / "home" / "me"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "rulesync").symlink_to(rulesync)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p and p != str(rulesync.parent)]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(HOME=str(home), PATH=os.pathsep.join(path))

    text = GUIDE.read_text(encoding="utf-8")
    setup = [
        line
        for block in blocks(text, "sh")
        for line in block.splitlines()
        if line.startswith(("export PATH=", "git config --global "))
    ]
    assert len(setup) == 3, setup  # the PATH line and the two identity lines
    proc = subprocess.run(
        ["sh", "-c", "\n".join([*setup, 'printf %s "$PATH"'])],
        cwd=home, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    env["PATH"] = proc.stdout
    return env


def run_session(steps: list[tuple[str, list[str]]], env: dict[str, str]) -> list[list[str]]:
    """Each command's output (stdout and stderr), run one after another in one shell that
    starts in HOME, as a new terminal does."""
    script = "".join(f"printf '{SEPARATOR}\\n'\n{command}\n" for command, _ in steps)
    shell = shutil.which("bash") or "sh"
    proc = subprocess.run(
        [shell, "-c", script], cwd=env["HOME"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, check=False, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    outputs = proc.stdout.split(f"{SEPARATOR}\n")[1:]
    return [[normalised(line, env["HOME"]) for line in out.splitlines()] for out in outputs]


def test_the_getting_started_sessions_run_as_printed_for_a_new_user(
    new_user: dict[str, str],
) -> None:
    sessions = [session(b) for b in blocks(GUIDE.read_text(encoding="utf-8"), "console")]
    assert len(sessions) == 2  # a first project; a folder that does not exist yet

    for steps in sessions:
        outputs = run_session(steps, new_user)

        assert len(outputs) == len(steps)
        for (command, expected), actual in zip(steps, outputs, strict=True):
            want = [normalised(line, DOC_HOME) for line in expected]
            assert matches(want, actual), (
                f"$ {command}\nexpected:\n" + "\n".join(want) + "\ngot:\n" + "\n".join(actual)
            )


def test_the_readme_session_is_part_of_the_getting_started_one() -> None:
    """The README's short session runs as printed because each of its commands, with its
    output, is a step of the guide's first session, which the test above runs."""
    first = blocks(GUIDE.read_text(encoding="utf-8"), "console")[0]
    steps = {command: output for command, output in session(first)}
    readme_sessions = [session(b) for b in blocks(README.read_text(encoding="utf-8"), "console")]
    assert readme_sessions
    for readme in readme_sessions:
        for command, output in readme:
            assert command in steps, f"README's `$ {command}` is not in the guide's session"
            assert matches(output, steps[command]), command
