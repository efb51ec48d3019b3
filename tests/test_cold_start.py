"""What a `check` or a no-op `apply` loads. Every module is part of each run's start-up cost
(bench/RESULTS.md times it beside a bare Python), so what a run does not need stays out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rulesync.cli import main
from support.repos import rulesync

# Run the command as the console script does, then list the source texts it compiled (not a
# module's file, which importlib hands over as bytes) and every module it loaded.
PROBE = """
import builtins, sys
compiled = []
original = builtins.compile
def compile(source, *args, **kwargs):
    if isinstance(source, str):
        compiled.append(source)
    return original(source, *args, **kwargs)
builtins.compile = compile
from rulesync.cli import main
code = main(sys.argv[1:])
print(repr(compiled))
print(" ".join(sorted(sys.modules)))
sys.exit(code)
"""
# What these runs must not pay for: PyYAML (the marker, config.yaml and tiers.yaml are read
# by rulesync's own reader of their plain subset), dataclasses and the inspect/ast/dis it
# brings, shutil with bz2 and lzma, argparse with gettext (a plain `check` or `apply` is read
# without it), `secrets` with random and hmac (a temporary name takes os.urandom's bytes), the
# readiness criteria and evidence a plain `phase:` never consults (tiers.yaml's sources are
# checked by the library), the fetching of a git-served library (a folder's spec is told from
# a URL by rulesync.spec), and what only the service, lint or doctor use.
NOT_NEEDED = (
    "yaml",
    "dataclasses",
    "inspect",
    "shutil",
    "argparse",
    "gettext",
    "rulesync.arguments",
    "secrets",
    "random",
    "hmac",
    "rulesync.readiness",
    "rulesync.evidence",
    "rulesync.remote",
    "watchdog",
    "structlog",
    "platformdirs",
    "rulesync.daemon",
    "rulesync.units",
    "rulesync.lint",
    "rulesync.doctor",
)


def probe(command: str, tmp_path: Path) -> list[str]:
    """The probe's output lines for `command` run in a new project on the bundled library."""
    rulesync(tmp_path, "init", "app", check=0)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, command],
        cwd=tmp_path / "app",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("in sync: basic")
    return proc.stdout.splitlines()


@pytest.mark.parametrize("command", ["check", "apply"])
def test_a_run_on_the_bundled_library_loads_no_module_it_does_not_need(
    command: str, tmp_path: Path
) -> None:
    loaded = set(probe(command, tmp_path)[-1].split())
    assert "rulesync.sync" in loaded  # the probe saw the run's own modules
    assert sorted(loaded.intersection(NOT_NEEDED)) == []
    if command == "check":
        # check compares files with what apply would write: it starts no git process.
        assert "subprocess" not in loaded


@pytest.mark.parametrize("command", ["check", "apply"])
def test_a_run_compiles_no_source_text(command: str, tmp_path: Path) -> None:
    # typing compiles a NamedTuple field's annotation when it is a string (a module with
    # `from __future__ import annotations`, or a quoted name), and the first compile in a
    # process sets up all of `ast`: a few percent of a short run.
    compiled = probe(command, tmp_path)[-2]
    assert compiled == "[]", f"{compiled}: a NamedTuple in a module postponing annotations?"


def test_the_command_ends_at_once_with_its_whole_output_and_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rulesync(tmp_path, "init", "app", check=0)
    app = tmp_path / "app"
    # The whole JSON document through a pipe, byte for byte what main() prints in-process.
    shown = rulesync(app, "tiers", "--json", check=0).stdout
    monkeypatch.chdir(app)
    capsys.readouterr()
    assert main(["tiers", "--json"]) == 0
    assert shown == capsys.readouterr().out
    assert len(shown) > 4096  # more than one pipe write
    # An exit code other than 0 survives the quick exit.
    (app / ".cursor" / "rules" / "face-data-privacy.mdc").unlink()
    assert "drift" in rulesync(app, "check", check=1).stdout
