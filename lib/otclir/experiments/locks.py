"""One computation at a time per folder: a lock file holding the owner's process id, machine and
start time. A second run is refused with those; a lock whose process has gone (a killed run) is
taken over."""
from __future__ import annotations

import datetime
import json
import os
import socket
from pathlib import Path

from otclir.errors import OtclirError


class LockedError(OtclirError):
    """Another live process computes into the same folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True


class FolderLock:
    def __init__(self, path: Path, guards: Path):
        self.path, self.guards = Path(path), guards
        self.held = False

    def owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
        for _ in range(2):
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self.owner()
                stale = owner is None or (owner.get("host") == record["host"] and not _alive(int(owner.get("pid", -1))))
                if stale:
                    self.path.unlink(missing_ok=True)
                    continue
                if owner.get("pid") == record["pid"] and owner.get("host") == record["host"]:
                    raise LockedError(f"this process already computes into {self.guards}")
                raise LockedError(f"another run computes into {self.guards}: process {owner['pid']} on {owner['host']}, "
                                  f"started {owner['started']}; wait for it to finish, or stop it (its lock is "
                                  f"{self.path})") from None
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            self.held = True
            return
        raise LockedError(f"could not take the lock {self.path}; remove it if no run is going on")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
