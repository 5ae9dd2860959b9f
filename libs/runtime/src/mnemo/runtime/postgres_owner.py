"""The unprivileged system user PostgreSQL runs as when we are root (it refuses root)."""

import os
import pwd
import stat
import subprocess
from collections.abc import Iterable
from pathlib import Path

SYSTEM_USER = "mnemo-pg"


def ensure_system_user(name: str = SYSTEM_USER) -> pwd.struct_passwd:
    """The passwd entry of `name`, created as a login-less system user if missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    # Another process may have created it in the meantime (exit code 9: exists).
    if result.returncode not in (0, 9):
        raise RuntimeError(f"could not create system user {name}: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def prepare_for_system_user(name: str, owned: Iterable[Path], install_dir: Path) -> None:
    """Let user `name` own the `owned` folders and run the binaries under `install_dir`.

    Parent folders get the "others may traverse" bit (not read), so that a data folder
    under a private temporary folder (pytest's are 0700) stays reachable.
    """
    user = ensure_system_user(name)
    for folder in owned:
        _allow_traverse(folder.parents)
        _chown_tree(folder, user.pw_uid, user.pw_gid)
    # The wheel's bin/ sits next to lib/ and share/, which postgres also reads.
    install_root = install_dir.parent
    _allow_traverse(install_root.parents)
    _allow_read_tree(install_root)


def _allow_traverse(folders: Iterable[Path]) -> None:
    for folder in folders:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _allow_read_tree(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        runnable = stat.S_ISDIR(mode) or mode & stat.S_IXUSR
        wanted = stat.S_IROTH | (stat.S_IXOTH if runnable else 0)
        if mode & wanted != wanted:
            path.chmod(stat.S_IMODE(mode) | wanted)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        if info.st_uid != uid or info.st_gid != gid:
            os.lchown(path, uid, gid)
