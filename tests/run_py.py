"""`python run.py` as a whole station process for the tests: started, waited for, stopped."""

import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import PEPPER
from test_mqtt_broker import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent

SITE = """
[site]
enterprise = "acme"
site = "plant1"
area = "smt"
timezone = "UTC"
language = "en"

[database]
url = "{db}"

[shifts]
starts = ["00:00"]
"""  # the start of a test process's station.toml: the site, its database, one shift a day


class RunPy:
    """run.py on a port of its own with `env` over the test's environment; its output in a log."""

    def __init__(self, folder: Path, env: dict, client_id: str, *args: str,
                 new_session: bool = False):
        self.folder, self.port, self.client_id = folder, free_port(), client_id
        self.log_path = folder / "station.log"
        env = {**os.environ, "SECRET_KEY": "test-secret", "PIN_PEPPER": PEPPER, **env}
        env.pop("MQTT_URL", None)
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "run.py", "--port", str(self.port), "--threads", "4", *args],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=new_session)  # its own group: a terminal's foreground job

    def text(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text(errors="replace")

    def serving(self) -> bool:
        """True once it answers /login (fails at once if the process died)."""
        assert self.proc.poll() is None, self.text()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/login")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def wait_serving(self, timeout: float = 60):
        """Wait until it serves; returns itself."""
        wait_until(self.serving, timeout, 0.05)
        return self

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM (a clean stop), SIGKILL if it does not end; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        # run.py keeps its relay lock in the project's instance folder: leave nothing behind.
        (ROOT / "instance" / f"relay-{self.client_id}.lock").unlink(missing_ok=True)
        return self.proc.returncode
