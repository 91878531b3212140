"""Runs the demo's mosquitto and stops it when the station is gone, however the station ended.

Started by station.mqtt.local as a script (no package import: it starts in milliseconds) with
its stdin a pipe from the station. The pipe closes when the station closes it or dies, even
killed with -9 or its terminal closed, and then mosquitto is stopped: a demo broker is never
left behind holding its port. Plain pipes and Popen work alike on Windows and Linux.
"""

import os
import signal
import subprocess
import sys
import threading


def _stop_at_end_of_input(broker: subprocess.Popen) -> None:
    while sys.stdin.buffer.read(4096):
        pass  # nothing is ever written: this waits for the end of the pipe
    broker.terminate()
    try:
        broker.wait(5)
    except subprocess.TimeoutExpired:
        broker.kill()


def main(command: list[str]) -> int:
    """Run `command` until it exits or stdin ends (then stop it); its exit code."""
    for name in ("SIGINT", "SIGHUP"):  # Ctrl+C or a closed terminal: the station decides
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    # In a process group of its own, so that Ctrl+C reaches the station only: its relay says
    # offline to a broker still there, then closes our stdin.
    alone = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
             else {"start_new_session": True})
    broker = subprocess.Popen(command, stdin=subprocess.DEVNULL, **alone)
    threading.Thread(target=_stop_at_end_of_input, args=(broker,), daemon=True).start()
    return broker.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
