"""A pseudo-terminal standing in for a serial device, that can be unplugged and plugged back."""

import os
import time
import tty
from pathlib import Path


class FakeDevice:
    """A pty pair behind a stable path (like /dev/serial/by-id/...): write bytes, unplug, replug."""

    def __init__(self, folder: Path, name: str = "device"):
        self.path = folder / name
        self.master = self.slave = None
        self.plug()

    def plug(self) -> None:
        """Create a new pty and point the stable path at it (a replug gets a new tty number)."""
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        if self.path.is_symlink():
            self.path.unlink()
        self.path.symlink_to(os.ttyname(self.slave))

    def write(self, data: bytes, chunk: int = 0, pause: float = 0.0) -> None:
        """Send bytes as the device would, whole or in chunks."""
        step = chunk or len(data) or 1
        for i in range(0, len(data), step):
            os.write(self.master, data[i:i + step])
            if pause:
                time.sleep(pause)

    def unplug(self) -> None:
        """Close both ends: the reader sees the device vanish."""
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None
        if self.path.is_symlink():
            self.path.unlink()

    def close(self) -> None:
        """Clean up whatever is still open."""
        if self.master is not None:
            self.unplug()


def wait_for(predicate, timeout: float = 5.0, step: float = 0.02) -> bool:
    """Poll until `predicate()` is true or `timeout` seconds pass; say which."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
