"""A Mosquitto of the station's own for the demo (`make run`): on a free port, stopped with it.

It runs under station.mqtt.keeper, which stops it when the station ends, even killed with -9.
A plant points [mqtt] url (or MQTT_URL) at its own broker instead; then nothing is started here.
The broker keeps nothing on disk: the events table is the outbox, and the relay republishes
every state when it connects.
"""

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Where the packages put it: Debian's and Homebrew's (on PATH or not), and the Windows installer.
PLACES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto",
          r"C:\Program Files\mosquitto\mosquitto.exe")
KEEPER = Path(__file__).with_name("keeper.py")


def find_mosquitto() -> str | None:
    """The mosquitto executable on PATH or where its packages install it; None if absent."""
    return shutil.which("mosquitto") or next((p for p in PLACES if os.path.isfile(p)), None)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LocalBroker:
    """A mosquitto child process listening on 127.0.0.1 only, anonymous, nothing persisted."""

    def __init__(self, executable: str, host: str = "127.0.0.1"):
        self.executable, self.host = executable, host
        self.port = _free_port(host)
        self.folder = Path(tempfile.mkdtemp(prefix="station-mosquitto-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The URL the station connects to."""
        return f"mqtt://{self.host}:{self.port}"

    def start(self, wait_s: float = 10.0) -> "LocalBroker":
        """Start mosquitto and wait until it accepts connections; RuntimeError if it does not."""
        conf = [f"listener {self.port} {self.host}", "allow_anonymous true",
                "persistence false", "log_dest stderr", "log_type error", "log_type warning"]
        if getattr(os, "geteuid", lambda: 1)() == 0:
            conf.append("user root")  # as root mosquitto would drop to a "mosquitto" user
        path = self.folder / "mosquitto.conf"
        path.write_text("\n".join(conf) + "\n", encoding="utf-8")
        log_path = self.folder / "mosquitto.log"  # a file, not a pipe nobody would drain
        with log_path.open("wb") as out:
            # Through the keeper: mosquitto stops when our end of its stdin closes, even if
            # this process is killed.
            self.proc = subprocess.Popen([sys.executable, str(KEEPER), self.executable, "-c",
                                          str(path)], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=out)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = log_path.read_text(errors="replace").strip()
                raise RuntimeError(f"mosquitto exited at once ({err or self.proc.returncode})")
            with socket.socket() as s:
                if s.connect_ex((self.host, self.port)) == 0:
                    return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port}")

    def stop(self) -> None:
        """Stop mosquitto: close the keeper's stdin (it stops mosquitto), then wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_for_demo() -> LocalBroker | None:
    """A local broker for the demo, or None (logged) when mosquitto is missing or fails."""
    executable = find_mosquitto()
    if executable is None:
        log.warning("No Mosquitto found: the station runs without a broker (the line pages say "
                    "so). Install it (Debian/Ubuntu: apt install mosquitto; Windows: "
                    "mosquitto.org/download) for live line status.")
        return None
    try:
        broker = LocalBroker(executable).start()
    except (OSError, RuntimeError) as err:
        log.warning("The demo's Mosquitto did not start (%s): the station runs without a "
                    "broker.", err)
        return None
    log.info("demo broker: %s at %s (stops with the station)", executable, broker.url)
    return broker
