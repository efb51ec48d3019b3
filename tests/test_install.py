"""install.sh, run for real under a temporary HOME: it installs a working `rulesync`, a second
run changes nothing, `--uninstall` removes it and nothing else, the README's quick start works
as pasted for a new user, and RULESYNC_PYTHON naming another interpreter rebuilds the venv;
it stops with a clear message when git or Python 3.11 is missing or RULESYNC_PYTHON cannot
run. Plus the pre-commit hook it ships beside."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rulesync import __version__
from support.env import snapshot
from support.repos import REPO_ROOT, git, make_repo

INSTALL_SH = REPO_ROOT / "install.sh"
SH = shutil.which("sh") or "/bin/sh"
# What install.sh needs besides git and Python; a PATH made of only these shows what
# happens on a machine that lacks the rest.
BASE_TOOLS = (
    "sh", "dirname", "sed", "cat", "grep", "mkdir", "rm", "rmdir", "mv", "cmp", "chmod",
    "find", "sort", "cksum", "uname", "env",
)  # fmt: skip


def run_install(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SH, str(INSTALL_SH), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def pip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pip cache for every install of the session: the first one fills it, the others
    reuse its wheels (the user's own cache stays untouched)."""
    return tmp_path_factory.mktemp("pip-cache")


@pytest.fixture(autouse=True)
def _shared_pip_cache(pip_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CACHE_DIR", str(pip_cache))


def user_env(home: Path, tmp_path: Path, *, path: str | None = None) -> dict[str, str]:
    """The isolated user's environment with ~/.local/bin on PATH. pip's cache (PIP_CACHE_DIR,
    shared by the session) and rustup's settings (pip runs `rustc --version` for its user
    agent) go outside HOME, so HOME ends up holding only what install.sh itself made."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env.update(
        PATH=path if path is not None else f"{home / '.local' / 'bin'}:{os.environ['PATH']}",
        RULESYNC_NO_PIPX="1",  # the venv path, deterministically, even where pipx exists
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        RUSTUP_HOME=str(tmp_path / "rustup"),
    )
    return env


def tool_path(folder: Path, *extra: str) -> str:
    """A PATH holding only BASE_TOOLS (and `extra`), as symlinks in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*BASE_TOOLS, *extra):
        found = shutil.which(name)
        if found:
            (folder / name).symlink_to(found)
    return str(folder)


# --- the script itself --------------------------------------------------------------------


def test_install_sh_is_posix_sh() -> None:
    for shell in ("sh", "dash"):
        found = shutil.which(shell)
        if found:
            proc = subprocess.run([found, "-n", str(INSTALL_SH)], capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
    assert INSTALL_SH.read_text().startswith("#!/bin/sh\n")


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed here")
def test_install_sh_passes_shellcheck() -> None:
    proc = subprocess.run(
        ["shellcheck", "-s", "sh", str(INSTALL_SH)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


def test_help_and_an_unknown_option(isolated_user: Path, tmp_path: Path) -> None:
    env = user_env(isolated_user, tmp_path)
    proc = run_install("--help", env=env)
    assert proc.returncode == 0
    for flag in ("--no-service", "--dev", "--uninstall", "--help"):
        assert flag in proc.stdout
    proc = run_install("--frobnicate", env=env)
    assert proc.returncode == 2
    assert "unknown option: --frobnicate" in proc.stderr


def test_without_git_it_stops_before_writing_anything(isolated_user: Path, tmp_path: Path) -> None:
    before = snapshot(isolated_user, skip_git=False)
    env = user_env(isolated_user, tmp_path, path=tool_path(tmp_path / "bin", "python3"))
    proc = run_install("--no-service", env=env)
    assert proc.returncode == 1
    assert "git is not installed" in proc.stderr and "apt install git" in proc.stderr
    assert snapshot(isolated_user, skip_git=False) == before


def test_without_python_3_11_it_stops_before_writing_anything(
    isolated_user: Path, tmp_path: Path
) -> None:
    before = snapshot(isolated_user, skip_git=False)
    env = user_env(isolated_user, tmp_path, path=tool_path(tmp_path / "bin", "git"))
    proc = run_install("--no-service", env=env)
    assert proc.returncode == 1
    assert "rulesync needs Python 3.11 or newer; found none" in proc.stderr
    assert "RULESYNC_PYTHON" in proc.stderr
    assert snapshot(isolated_user, skip_git=False) == before


def _old_python() -> str | None:
    """A Python older than 3.11 that really runs here, if the machine has one."""
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # HOME is the isolated user's
    candidates = [shutil.which(f"python3.{minor}") for minor in range(10, 6, -1)]
    for pattern in ("/usr/bin/python3.*", "/usr/local/bin/python3.*"):
        candidates += sorted(glob.glob(pattern))
    candidates += sorted(glob.glob(f"{real_home}/.pyenv/versions/3.*/bin/python3"))
    for candidate in filter(None, candidates):
        proc = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info < (3, 11))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0 and proc.stdout.strip() == "True":
            return candidate
    return None


def test_a_rulesync_python_that_cannot_run_is_named_with_what_is_wrong(
    isolated_user: Path, tmp_path: Path
) -> None:
    before = snapshot(isolated_user, skip_git=False)
    env = user_env(isolated_user, tmp_path)
    not_python = shutil.which("true") or "/bin/true"
    for interpreter, problem in (
        (str(tmp_path / "nope"), "does not exist"),
        (str(REPO_ROOT / "README.md"), "is not an executable file"),
        ("python3-nowhere", "is not on PATH"),
        (not_python, "does not run as Python"),
    ):
        proc = run_install("--no-service", env={**env, "RULESYNC_PYTHON": interpreter})
        assert proc.returncode == 1
        assert f"RULESYNC_PYTHON={interpreter}, but {interpreter} {problem}" in proc.stderr
        assert "found none" not in proc.stderr
    assert snapshot(isolated_user, skip_git=False) == before


def test_an_older_python_is_named_in_the_error(isolated_user: Path, tmp_path: Path) -> None:
    old = _old_python()
    if old is None:
        pytest.skip("no Python older than 3.11 on this machine to try install.sh with")
    before = snapshot(isolated_user, skip_git=False)
    env = user_env(isolated_user, tmp_path)
    env["RULESYNC_PYTHON"] = old
    proc = run_install("--no-service", env=env)
    assert proc.returncode == 1
    assert f"rulesync needs Python 3.11 or newer; found only: {old} (3." in proc.stderr
    assert snapshot(isolated_user, skip_git=False) == before


def test_a_launcher_it_did_not_write_is_never_replaced_nor_removed(
    isolated_user: Path, tmp_path: Path
) -> None:
    launcher = isolated_user / ".local" / "bin" / "rulesync"
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/bin/sh\necho my own rulesync\n")
    before = snapshot(isolated_user, skip_git=False)
    env = user_env(isolated_user, tmp_path)

    proc = run_install("--no-service", env=env)
    assert proc.returncode == 1
    assert "was not written by install.sh" in proc.stderr
    assert snapshot(isolated_user, skip_git=False) == before  # refused before creating the venv

    proc = run_install("--uninstall", env=env)
    assert proc.returncode == 0
    assert f"left alone: {launcher}" in proc.stdout
    assert snapshot(isolated_user, skip_git=False) == before


@pytest.mark.skipif(sys.platform != "linux", reason="the folders named are Linux's")
def test_uninstall_says_where_what_it_leaves_is(isolated_user: Path, tmp_path: Path) -> None:
    env = user_env(isolated_user, tmp_path)
    state = Path(env["XDG_STATE_HOME"]) / "rulesync"

    proc = run_install("--uninstall", env=env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    left = proc.stdout.split("left alone, yours to delete if you want them gone too:\n", 1)[1]
    assert left.splitlines() == [
        f"  the registry and config: {Path(env['XDG_CONFIG_HOME']) / 'rulesync'}",
        f"  the logs: {state / 'log'}",
        f"  the backups `apply --force` made: {state / 'backups'}",
        f"  the cache of git-served libraries: {Path(env['XDG_CACHE_HOME']) / 'rulesync'}",
        "  every project, with its marker, rules and commits",
    ]


# --- the real install -----------------------------------------------------------------------


def test_install_sh_installs_a_working_rulesync_then_changes_nothing_then_uninstalls_cleanly(
    isolated_user: Path, tmp_path: Path
) -> None:
    home = isolated_user
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    # The user's own things, which neither install nor uninstall may touch.
    project = make_repo(tmp_path / "project")
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    config = home / ".config" / "rulesync"
    config.mkdir(parents=True)
    (config / "config.yaml").write_text("debounce_ms: 80\n")
    (config / "projects.yaml").write_text(f"projects:\n  - '{project}'\n")
    (home / ".bashrc").write_text("# mine\n")
    before = snapshot(home, skip_git=False)
    env = user_env(home, tmp_path)
    venv = home / ".local" / "share" / "rulesync" / "venv"
    launcher = bin_dir / "rulesync"

    first = run_install("--no-service", env=env, timeout=600)

    assert first.returncode == 0, first.stdout + first.stderr
    assert f"created {venv}" in first.stdout and f"wrote {launcher}" in first.stdout
    assert "is not on your PATH" not in first.stderr
    assert os.access(launcher, os.X_OK)
    version = subprocess.run(
        ["rulesync", "--version"], env=env, capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"rulesync {__version__}"
    # The wheel carries the bundled library and the unit templates.
    site = next(venv.glob("lib/python3.*/site-packages"))
    assert (site / "rulesync" / "rules" / "tiers.yaml").is_file()
    assert not (site / "rulesync" / "__init__.py").is_symlink()
    tiers = subprocess.run(
        ["rulesync", "tiers", "--json"], env=env, capture_output=True, text=True, check=True
    )
    names = [t["name"] for t in json.loads(tiers.stdout)["tiers"]]
    assert names == ["basic", "advanced", "enterprise"]
    unit = subprocess.run(
        ["rulesync", "service", "install", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"ExecStart={venv}/bin/rulesync daemon" in unit.stdout
    launcher_text = launcher.read_text()
    launcher_mtime = launcher.stat().st_mtime_ns
    package_mtime = (site / "rulesync" / "__init__.py").stat().st_mtime_ns
    installed = snapshot(home, skip_git=False)

    # Again, from a shell whose PATH lacks ~/.local/bin: nothing changes, and it says how to
    # add it (a warning: the install itself is fine).
    without_bin = env["PATH"].split(":", 1)[1]
    second = run_install("--no-service", env={**env, "PATH": without_bin}, timeout=120)

    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing changed" in second.stdout
    assert f"{bin_dir} is not on your PATH" in second.stderr
    assert 'export PATH="$HOME/.local/bin:$PATH"' in second.stderr
    assert launcher.read_text() == launcher_text
    assert launcher.stat().st_mtime_ns == launcher_mtime
    assert (site / "rulesync" / "__init__.py").stat().st_mtime_ns == package_mtime
    assert snapshot(home, skip_git=False) == installed

    gone = run_install("--uninstall", env=env, timeout=120)

    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert f"removed {launcher}" in gone.stdout and f"removed {venv}" in gone.stdout
    assert f"the registry and config: {config}" in gone.stdout
    assert snapshot(home, skip_git=False) == before
    again = run_install("--uninstall", env=env)
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def fresh_user_env(home: Path, tmp_path: Path) -> dict[str, str]:
    """A new user's environment: no XDG_* variables, so every default location is used."""
    env = user_env(home, tmp_path)
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env.pop(name, None)
    return env


# A second real install beside the one above; .ci/run also runs this command as its last step.
@pytest.mark.slow
def test_the_quick_start_works_as_pasted_in_a_fresh_home(
    isolated_user: Path, tmp_path: Path
) -> None:
    home = tmp_path / "new-user"  # nothing in it: no ~/.local, no ~/.config, no git identity
    home.mkdir()
    env = {**fresh_user_env(home, tmp_path), "HOME": str(home)}
    readme = (REPO_ROOT / "README.md").read_text()
    command = "./install.sh --no-service && ~/.local/bin/rulesync init ~/code/my-app"
    assert f"```sh\n{command}\n```" in readme
    app = home / "code" / "my-app"  # "any git repository of yours — a new one is fine"
    app.mkdir(parents=True)
    git(app, "init", "-q")
    git(app, "-c", "user.name=Me", "-c", "user.email=me@example.com", "commit", "-q",
        "--allow-empty", "-m", "start")  # fmt: skip

    proc = subprocess.run(
        [SH, "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=600, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (home / ".local" / "share" / "rulesync" / "venv" / "pyvenv.cfg").is_file()
    assert "rulesync: install basic rules" in git(app, "log", "-1", "--format=%s")
    assert (app / ".cursor" / "rules").is_dir()


def _interpreter(python: str) -> tuple[str, str] | None:
    """(base prefix, version) of a Python 3.11+ able to make venvs, or None."""
    proc = subprocess.run(
        [python, "-c", "import sys, venv, ensurepip; "
         "print(sys.version_info >= (3, 11)); print(sys.base_prefix); print(sys.version)"],
        capture_output=True, text=True, check=False, env={"PATH": os.defpath},
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) < 3 or lines[0] != "True":
        return None
    return lines[1], lines[2]


def _another_python(than: str) -> str | None:
    """A Python 3.11+ on this machine that is not the same interpreter as `than`."""
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # HOME is the isolated user's
    candidates = ["/usr/bin/python3", "/usr/local/bin/python3"]
    candidates += [shutil.which(f"python3.{minor}") or "" for minor in range(11, 16)]
    candidates += sorted(glob.glob(f"{real_home}/.pyenv/versions/3.1[1-9]*/bin/python3"))
    mine = _interpreter(than)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            found = _interpreter(candidate)
            if found is not None and found != mine:
                return candidate
    return None


# Three real installs, two of them building a venv: most of a minute.
@pytest.mark.slow
def test_rulesync_python_naming_another_interpreter_rebuilds_the_venv(
    isolated_user: Path, tmp_path: Path
) -> None:
    first = os.path.realpath(sys.executable)  # the interpreter behind this venv, if one
    other = _another_python(first)
    if other is None:
        pytest.skip("only one Python 3.11+ on this machine")
    env = user_env(isolated_user, tmp_path)
    venv = isolated_user / ".local" / "share" / "rulesync" / "venv"
    proc = run_install("--no-service", env={**env, "RULESYNC_PYTHON": first}, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _interpreter(str(venv / "bin" / "python")) == _interpreter(first)

    rebuilt = run_install("--no-service", env={**env, "RULESYNC_PYTHON": other}, timeout=600)

    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert f"{venv} was built with another Python; recreating it with" in rebuilt.stdout
    assert _interpreter(str(venv / "bin" / "python")) == _interpreter(other)
    version = subprocess.run(
        ["rulesync", "--version"], env=env, capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"rulesync {__version__}"

    # Without RULESYNC_PYTHON the first python3 on PATH is another one again: the venv the
    # user asked for is kept, and the output says so and how to switch.
    bin_dir = tmp_path / "first-python"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(first)
    kept = run_install("--no-service", env={**env, "PATH": f"{bin_dir}:{env['PATH']}"})

    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert f"{venv} (kept: built with another Python" in kept.stdout
    assert "RULESYNC_PYTHON=" in kept.stdout and "rebuilds it with that one" in kept.stdout
    assert "nothing changed" in kept.stdout
    assert _interpreter(str(venv / "bin" / "python")) == _interpreter(other)


# --- the pre-commit hook --------------------------------------------------------------------


def test_pre_commit_hook_runs_rulesync_check_on_every_commit() -> None:
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "rulesync-check"
    assert hook["entry"] == "rulesync check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False and hook["always_run"] is True
    proc = subprocess.run(
        [sys.executable, "-m", "rulesync", "check", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
