"""One writer at a time: an advisory lock file in the index folder."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from searchapp.errors import BadInputError, IndexLockedError, IndexNotWritableError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, single writer by convention
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "write.lock"


class WriterLock:
    """Exclusive lock held while a command writes the index.

    With ``wait`` the lock is retried until it is free, calling ``on_wait`` once so the CLI can say
    why it pauses; without it a held lock raises ``IndexLockedError`` at once. The kernel drops the
    lock when the holder dies, so a killed writer never leaves the index locked.
    """

    def __init__(
        self, index_dir: Path, *, wait: bool = True, on_wait: Callable[[], None] | None = None
    ) -> None:
        self.path = index_dir / LOCK_NAME
        self.wait = wait
        self.on_wait = on_wait
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # as Store.open
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if exc.errno in (errno.ENOTDIR, errno.ENOENT):  # no folder can be made there
                folder = self.path.parent
                raise BadInputError(
                    f"cannot create the index folder {folder} ({exc.strerror or exc}: "
                    f"{_blocker(folder)}); choose another --index-dir"
                ) from None
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise  # a full disk: as any write's error (a reader builds unsaved)
            raise IndexNotWritableError(
                f"cannot write to the index at {self.path.parent} ({exc.strerror}); queries can "
                "read it, but this needs write access: check its permissions, or choose "
                "another --index-dir"
            ) from None
        if fcntl is None:
            self._fd = fd
            return
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                if not self.wait:
                    holder = _holder(fd)
                    os.close(fd)
                    raise IndexLockedError(
                        f"another `search index` or `search watch`{holder} is writing "
                        f"{self.path.parent}; wait for it to finish, or drop --no-wait to "
                        "queue behind it"
                    ) from None
                if not told and self.on_wait is not None:
                    self.on_wait()
                    told = True
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _blocker(folder: Path) -> str:
    """What stands in the way of making ``folder``: a file where a folder of its path should
    be, or a folder that is not there and cannot be made."""
    for above in [folder, *folder.parents]:
        if above.exists():
            return f"{above} is a file" if not above.is_dir() else f"{above} cannot hold it"
    return "no folder of its path exists"


def _holder(fd: int) -> str:
    """ " (pid N)" of the process holding the lock, as it wrote it; "" when unreadable."""
    try:
        pid = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
