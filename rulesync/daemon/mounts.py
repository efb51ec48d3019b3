"""Which folders inotify cannot watch usefully: those on a network filesystem, where it never
hears about other machines' writes (read from /proc/self/mountinfo)."""

from __future__ import annotations

from collections.abc import Iterable

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "davfs",
        "fuse.sshfs",
        "fuse.rclone",
        "fuse.davfs2",
        "fuse.glusterfs",
        "fuse.ceph",
        "fuse.s3fs",
        "fuse.gcsfuse",
    }
)


def _unescape_mount(field_text: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field_text = field_text.replace(code, char)
    return field_text


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    """(mount point, filesystem type) for each line of /proc/self/mountinfo."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if "-" not in parts:
            continue
        sep = parts.index("-")
        if sep < 5 or sep + 1 >= len(parts):
            continue
        mounts.append((_unescape_mount(parts[4]), parts[sep + 1]))
    return mounts


def filesystem_type(path: str, mounts: Iterable[tuple[str, str]]) -> str:
    """The type of the filesystem holding `path` (an absolute, resolved path): the mount with
    the longest mount point above it; the last such mount wins, as it hides earlier ones."""
    best, best_len = "", -1
    for point, fstype in mounts:
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best_len:
            best, best_len = fstype, len(point)
    return best


def needs_polling(fstype: str) -> bool:
    """True for network filesystems, where inotify never hears about other machines' writes."""
    return fstype in NETWORK_FILESYSTEMS or fstype.startswith(("nfs", "fuse.sshfs"))


def mount_table() -> list[tuple[str, str]]:
    """The current mounts (empty where /proc/self/mountinfo does not exist, e.g. macOS)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            return parse_mountinfo(handle.read())
    except OSError:
        return []
