#!/bin/sh
# install.sh: install rulesync for this user from the folder this script lives in (a clone or
# an unpacked sdist), then install and start its service. POSIX sh; safe to run again: a
# second run with nothing new changes nothing.
#
# Where things go:
#   ${XDG_DATA_HOME:-~/.local/share}/rulesync/venv   rulesync's own virtual environment
#   ~/.local/bin/rulesync                            a launcher that runs the venv's rulesync
# With pipx on PATH (and without --dev), pipx installs it instead. Environment knobs:
#   RULESYNC_PYTHON=/path/to/python3.11   the interpreter to use (default: the first of
#                                          python3, python3.13, python3.12, python3.11 that is
#                                          3.11 or newer)
#   RULESYNC_NO_PIPX=1                     use the venv even when pipx is installed
set -eu

LAUNCHER_MARK="rulesync launcher written by install.sh"
# The distribution's name on the Python package index: `rulesync` there is another project.
DIST=cursor-rulesync
STAMP_NAME="rulesync-install.stamp"

usage() {
    cat <<'EOF'
usage: sh install.sh [--no-service] [--dev] [--uninstall] [--help]

Install rulesync for this user: its own virtual environment under
${XDG_DATA_HOME:-~/.local/share}/rulesync/venv (or pipx when present), a `rulesync`
launcher in ~/.local/bin, and the user service (systemd or launchd) where one is reachable.
Running it again updates what changed and nothing else.

  --no-service  do not install or start the service
  --dev         editable install with the test tools (for contributors; never uses pipx)
  --uninstall   remove the venv, the launcher and the service; the registry, the config,
                the logs, the --force backups, the library cache and every project are
                left alone (it says where they are)
  --help        show this help

Environment: RULESYNC_PYTHON (the interpreter to use), RULESYNC_NO_PIPX=1 (skip pipx).
Exit codes: 0 done (also when no service manager is reachable: the service is optional),
1 a requirement is missing or a step failed, 2 invalid usage.
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}

NO_SERVICE=0
DEV=0
UNINSTALL=0
for arg in "$@"; do
    case $arg in
        --no-service) NO_SERVICE=1 ;;
        --dev) DEV=1 ;;
        --uninstall) UNINSTALL=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            printf 'install.sh: error: unknown option: %s\n' "$arg" >&2
            exit 2
            ;;
    esac
done

case ${HOME:-} in
    /*) ;;
    *) die "HOME must be set to an absolute path" ;;
esac
# XDG paths must be absolute; a relative one is ignored, as the XDG spec says.
case ${XDG_DATA_HOME:-} in
    /*) DATA_HOME=$XDG_DATA_HOME ;;
    *) DATA_HOME=$HOME/.local/share ;;
esac
APP_DATA=$DATA_HOME/rulesync
VENV=$APP_DATA/venv
BIN_DIR=$HOME/.local/bin
LAUNCHER=$BIN_DIR/rulesync
SRC_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)

# --- helpers ------------------------------------------------------------------------------

# Single-quote a string for sh.
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

is_our_launcher() {
    [ -f "$LAUNCHER" ] && [ ! -L "$LAUNCHER" ] && grep -q "$LAUNCHER_MARK" "$LAUNCHER"
}

is_our_venv() {
    [ -f "$VENV/pyvenv.cfg" ]
}

pipx_has_rulesync() {
    command -v pipx >/dev/null 2>&1 && pipx list --short 2>/dev/null | grep -q "^$DIST "
}

# The folder pipx keeps rulesync's venv in (empty when pipx cannot say).
pipx_venv() {
    venvs=$(pipx environment --value PIPX_LOCAL_VENVS 2>/dev/null) || venvs=""
    [ -n "$venvs" ] && printf '%s/%s' "$venvs" "$DIST"
}

# rulesync's folder of one kind, as rulesync works it out: user_folder XDG_VALUE HOME_DEFAULT
# MACOS_FOLDER (under ~/Library).
user_folder() {
    if [ "$(uname -s)" = Darwin ]; then
        printf '%s/Library/%s/rulesync' "$HOME" "$3"
    else
        case $1 in
            /*) printf '%s/rulesync' "$1" ;;
            *) printf '%s/%s/rulesync' "$HOME" "$2" ;;
        esac
    fi
}

config_location() {
    user_folder "${XDG_CONFIG_HOME:-}" .config "Application Support"
}

# --- uninstall ----------------------------------------------------------------------------

uninstall() {
    removed=0
    # The service first, while the program that knows how to remove it is still there.
    if [ -x "$VENV/bin/rulesync" ]; then
        "$VENV/bin/rulesync" service uninstall || warn "removing the service failed (see above)"
    elif pipx_has_rulesync; then
        pipx_bin=$(pipx environment --value PIPX_BIN_DIR 2>/dev/null || printf '%s' "$BIN_DIR")
        "$pipx_bin/rulesync" service uninstall || warn "removing the service failed (see above)"
    fi
    if is_our_launcher; then
        rm -f "$LAUNCHER"
        say "removed $LAUNCHER"
        removed=1
    elif [ -e "$LAUNCHER" ] || [ -L "$LAUNCHER" ]; then
        if ! pipx_has_rulesync; then
            say "left alone: $LAUNCHER (not written by install.sh)"
        fi
    fi
    if is_our_venv; then
        rm -rf "$VENV"
        say "removed $VENV"
        removed=1
    elif [ -e "$VENV" ]; then
        say "left alone: $VENV (not a virtual environment)"
    fi
    # Only when empty: rulesync keeps nothing else there, but the user might.
    rmdir "$APP_DATA" 2>/dev/null || true
    if pipx_has_rulesync; then
        pipx uninstall "$DIST"
        removed=1
    fi
    if [ "$removed" = 0 ]; then
        say "rulesync is not installed here; nothing to remove"
    fi
    # What stays is the user's: say where it is, so that removing it too is one step.
    state=$(user_folder "${XDG_STATE_HOME:-}" .local/state "Application Support")
    if [ "$(uname -s)" = Darwin ]; then logs="$HOME/Library/Logs/rulesync"; else logs="$state/log"; fi
    say "left alone, yours to delete if you want them gone too:"
    say "  the registry and config: $(config_location)"
    say "  the logs: $logs"
    say "  the backups \`apply --force\` made: $state/backups"
    say "  the cache of git-served libraries: $(user_folder "${XDG_CACHE_HOME:-}" .cache Caches)"
    say "  every project, with its marker, rules and commits"
}

if [ "$UNINSTALL" = 1 ]; then
    uninstall
    exit 0
fi

# --- requirements -------------------------------------------------------------------------

if [ ! -f "$SRC_DIR/pyproject.toml" ] || [ ! -f "$SRC_DIR/rulesync/__init__.py" ]; then
    die "$SRC_DIR does not hold rulesync's sources; run install.sh from a rulesync clone"
fi
VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$SRC_DIR/rulesync/__init__.py")

command -v git >/dev/null 2>&1 ||
    die "git is not installed; rulesync records every change as a git commit. Install it
  (Debian/Ubuntu: sudo apt install git; Fedora: sudo dnf install git; macOS: xcode-select --install)
  and run install.sh again."

# Why the command $1 cannot be run, or nothing when it can.
run_problem() {
    case $1 in
        */*)
            if [ ! -e "$1" ]; then
                printf 'does not exist'
            elif [ -d "$1" ] || [ ! -x "$1" ]; then
                printf 'is not an executable file'
            fi
            ;;
        *) command -v "$1" >/dev/null 2>&1 || printf 'is not on PATH' ;;
    esac
}

# The first interpreter that is 3.11 or newer; sys.executable sees through pyenv-style shims.
find_python() {
    if [ -n "${RULESYNC_PYTHON:-}" ]; then
        set -- "$RULESYNC_PYTHON"
    else
        set -- python3 python3.13 python3.12 python3.11
    fi
    seen=""
    for candidate in "$@"; do
        problem=$(run_problem "$candidate")
        if [ -z "$problem" ]; then
            # "3.12 1 /usr/bin/python3.12": version, new enough, the interpreter's own path.
            info=$("$candidate" -c 'import sys; v = sys.version_info; print("%d.%d %d %s" % (v[0], v[1], v >= (3, 11), sys.executable))' 2>/dev/null) || info=""
            case $info in
                [0-9]*.[0-9]*" "[01]" "/*) ;;
                *) problem="does not run as Python" ;;
            esac
        fi
        if [ -n "$problem" ]; then
            # The user named one interpreter: say what is wrong with it, not "found none".
            [ -z "${RULESYNC_PYTHON:-}" ] && continue
            die "RULESYNC_PYTHON=$candidate, but $candidate $problem; point RULESYNC_PYTHON at a
  Python 3.11 or newer (or unset it to use the first python3 on PATH) and run install.sh again."
        fi
        version=${info%% *}
        rest=${info#* }
        if [ "${rest%% *}" = 1 ]; then
            PYTHON=${rest#* }
            PYTHON_VERSION=$version
            return 0
        fi
        seen="$seen $candidate ($version)"
    done
    if [ -n "$seen" ]; then
        found="found only:$seen"
    else
        found="found none"
    fi
    die "rulesync needs Python 3.11 or newer; $found. Install one
  (Debian/Ubuntu: sudo apt install python3.11 python3.11-venv; macOS: brew install python@3.12)
  or point RULESYNC_PYTHON at it, then run install.sh again."
}
find_python
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
    die "$PYTHON cannot create virtual environments (no venv/ensurepip module); install
  python$PYTHON_VERSION-venv (Debian/Ubuntu) and run install.sh again."

USE_PIPX=0
if [ "$DEV" = 0 ] && [ "${RULESYNC_NO_PIPX:-}" != 1 ] && command -v pipx >/dev/null 2>&1 &&
    ! is_our_launcher; then
    USE_PIPX=1
fi

# A digest of what the install is made from, so a second run with nothing new skips pip.
# An editable install reads the sources in place: only its dependencies (pyproject) count.
source_stamp() {
    (
        cd "$SRC_DIR"
        if [ "$DEV" = 1 ]; then
            set -- pyproject.toml
        else
            set -- pyproject.toml
            for part in README.md rulesync rules service; do
                [ -e "$part" ] && set -- "$@" "$part"
            done
        fi
        digest=$(find "$@" -name __pycache__ -prune -o -type f ! -name '*.pyc' -print |
            LC_ALL=C sort | while IFS= read -r file; do
            printf '%s\n' "$file"
            cat "$file"
        done | cksum)
        printf 'rulesync %s dev=%s python=%s source=%s digest=%s\n' \
            "$VERSION" "$DEV" "$PYTHON_VERSION" "$SRC_DIR" "$digest"
    )
}

CHANGED=0
say "rulesync $VERSION from $SRC_DIR"
say "  python:   $PYTHON ($PYTHON_VERSION)"

# --- pipx ---------------------------------------------------------------------------------

install_with_pipx() {
    STAMP=$(source_stamp)
    stamp_dir=$(pipx_venv || true)
    if pipx_has_rulesync && [ -n "$stamp_dir" ] &&
        [ "$(cat "$stamp_dir/$STAMP_NAME" 2>/dev/null || true)" = "$STAMP" ]; then
        say "  package:  unchanged (pipx)"
    else
        pipx install --force --python "$PYTHON" "$SRC_DIR" ||
            die "pipx install failed (see above); RULESYNC_NO_PIPX=1 uses a plain venv instead"
        if [ -n "$stamp_dir" ] && [ -d "$stamp_dir" ]; then
            printf '%s\n' "$STAMP" >"$stamp_dir/$STAMP_NAME"
        fi
        say "  package:  installed with pipx"
        CHANGED=1
    fi
    bin_dir=$(pipx environment --value PIPX_BIN_DIR 2>/dev/null || printf '%s' "$BIN_DIR")
    RULESYNC=$bin_dir/rulesync
    BIN_DIR=$bin_dir
}

# --- venv ---------------------------------------------------------------------------------

# Which interpreter a python is, seen through venvs and symlinks: a venv's python and the
# python it was made from print the same line.
interpreter_id() {
    "$1" -c 'import sys; print(sys.base_prefix, sys.version)' 2>/dev/null
}

install_with_venv() {
    if is_our_venv && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        # Its interpreter is gone (a removed pyenv version, an OS upgrade) or too old.
        say "  venv:     $VENV is broken or too old; recreating it"
        rm -rf "$VENV"
    fi
    if is_our_venv && [ "$(interpreter_id "$VENV/bin/python")" != "$(interpreter_id "$PYTHON")" ]; then
        if [ -n "${RULESYNC_PYTHON:-}" ]; then
            # The user asked for this interpreter: the venv must run on it.
            say "  venv:     $VENV was built with another Python; recreating it with $PYTHON"
            rm -rf "$VENV"
        else
            # Without RULESYNC_PYTHON, keep the interpreter an earlier install was told to use.
            PYTHON_VERSION=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
            built=$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0], "in", sys.base_prefix)')
            say "  venv:     $VENV (kept: built with another Python, $built;"
            say "            RULESYNC_PYTHON=$PYTHON rebuilds it with that one)"
            KEPT=1
        fi
    fi
    if [ -e "$VENV" ] && ! is_our_venv; then
        die "$VENV exists but is not a virtual environment; move it away and run install.sh again"
    fi
    if [ ! -d "$VENV" ]; then
        mkdir -p "$APP_DATA"
        "$PYTHON" -m venv "$VENV" || die "could not create the virtual environment $VENV"
        say "  venv:     created $VENV"
        CHANGED=1
    elif [ "${KEPT:-0}" = 0 ]; then
        say "  venv:     $VENV"
    fi
    STAMP=$(source_stamp)
    if [ "$(cat "$VENV/$STAMP_NAME" 2>/dev/null || true)" = "$STAMP" ] &&
        "$VENV/bin/rulesync" --version >/dev/null 2>&1; then
        say "  package:  unchanged"
    else
        rm -f "$VENV/$STAMP_NAME"
        # Installs before the rename carry the package as `rulesync`: one owner per file.
        "$VENV/bin/python" -m pip uninstall --disable-pip-version-check -q -y rulesync \
            >/dev/null 2>&1 || true
        if [ "$DEV" = 1 ]; then
            "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e "${SRC_DIR}[test]" ||
                die "pip install failed (see above)"
            say "  package:  installed in editable mode, with the test tools"
        else
            "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$SRC_DIR" ||
                die "pip install failed (see above)"
            say "  package:  installed"
        fi
        printf '%s\n' "$STAMP" >"$VENV/$STAMP_NAME"
        CHANGED=1
    fi
    RULESYNC=$LAUNCHER
    write_launcher
}

write_launcher() {
    mkdir -p "$BIN_DIR"
    tmp=$BIN_DIR/.rulesync.install.$$
    {
        say "#!/bin/sh"
        say "# $LAUNCHER_MARK; \`install.sh --uninstall\` removes it."
        say "exec $(quote "$VENV/bin/rulesync") \"\$@\""
    } >"$tmp"
    chmod 755 "$tmp"
    if [ -f "$LAUNCHER" ] && cmp -s "$tmp" "$LAUNCHER"; then
        rm -f "$tmp"
        say "  launcher: $LAUNCHER (unchanged)"
    else
        mv -f "$tmp" "$LAUNCHER"
        say "  launcher: wrote $LAUNCHER"
        CHANGED=1
    fi
}

if [ "$USE_PIPX" = 1 ]; then
    install_with_pipx
else
    # Checked before anything is written, so a refusal leaves everything as it was.
    if { [ -e "$LAUNCHER" ] || [ -L "$LAUNCHER" ]; } && ! is_our_launcher; then
        die "$LAUNCHER exists and was not written by install.sh (another rulesync, or pipx's);
  remove it (\`pipx uninstall $DIST\` for pipx's) and run install.sh again"
    fi
    install_with_venv
fi

"$RULESYNC" --version >/dev/null 2>&1 || die "$RULESYNC does not run; see the output above"

# --- the service --------------------------------------------------------------------------

if [ "$NO_SERVICE" = 1 ]; then
    say "  service:  skipped (--no-service)"
else
    say "  service:  rulesync service install"
    # The service is optional: without a reachable service manager (a container, CI, SSH
    # without a login session) `service install` says so and how to run the daemon by hand,
    # and the install itself still succeeded.
    if ! "$RULESYNC" service install; then
        say "  service:  not installed (see above); rulesync works without it, and"
        say "            \`rulesync service install\` installs it where a service manager runs"
    fi
fi

# --- PATH and next steps ------------------------------------------------------------------

ON_PATH=0
case ":$PATH:" in
    *":$BIN_DIR:"* | *":$BIN_DIR/:"*) ON_PATH=1 ;;
esac

if [ "$CHANGED" = 0 ]; then
    say "rulesync $VERSION is already installed; nothing changed."
else
    say "rulesync $VERSION is installed."
fi
if [ "$ON_PATH" = 0 ]; then
    case ${SHELL:-} in
        */zsh) rc=$HOME/.zshrc ;;
        */bash) rc=$HOME/.bashrc ;;
        *) rc=$HOME/.profile ;;
    esac
    warn "$BIN_DIR is not on your PATH, so \`rulesync\` is not found yet. Add this line to $rc
  and open a new terminal:
    export PATH=\"\$HOME/.local/bin:\$PATH\"
  (until then, run $RULESYNC)"
fi
say ""
say "Next steps:"
say "  cd path/to/your/project && rulesync init    # writes .rulesync.yaml, registers it, applies"
say "  rulesync doctor                              # checks git, inotify limits, the service"
if [ "$DEV" = 1 ]; then
    say "  cd $(quote "$SRC_DIR") && $(quote "$VENV/bin/python") -m pytest -q    # the test suite"
fi
