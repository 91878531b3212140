"""Start the station under its production server: python run.py [--host] [--port] [--demo]."""

import argparse
import atexit
import gc
import logging
import os
import signal
import sys

from waitress import serve

from station import create_app
from station.line.desk import start_scanners
from station.mqtt import start_relay
from station.mqtt.local import start_for_demo
from station.readiness.profilers import start_profilers


def main() -> None:
    """Parse the command line, build the app, seed the demo if asked, and serve."""
    parser = argparse.ArgumentParser(description="SMT line station")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--demo", action="store_true", help="seed the demo line first")
    parser.add_argument("--no-broker", action="store_true",
                        help="with --demo: do not start a local Mosquitto")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.demo and not args.no_broker and not _broker_configured():
        broker = start_for_demo()  # the demo is live: its own broker on a free port
        if broker is not None:
            os.environ["MQTT_URL"] = broker.url
            atexit.register(broker.stop)  # after the relay's own stop (atexit runs in reverse)
    # SIGTERM (a service manager, `kill`) ends the process as Ctrl+C does: the relay says
    # offline and saves its cursor, then the demo's broker stops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _serve(args)


def _broker_configured() -> bool:
    """True when [mqtt] url or MQTT_URL names the plant's broker."""
    from station.config import load_settings

    return bool(os.environ.get("MQTT_URL") or load_settings().mqtt.url)


def _serve(args) -> None:
    app = create_app()
    if args.demo:
        from sqlmodel import Session

        from station.demo import seed

        with Session(app.extensions["engine"]) as session:
            logging.info(seed(session, app.config["PIN_PEPPER"]))
    start_profilers(app)
    start_scanners(app)
    # The MQTT outbox relay, when [mqtt] url (or MQTT_URL) names a broker: it publishes the
    # event log in order and moves its cursor on the broker's acknowledgement, in a thread that
    # requests never wait for. One runs per station even with several processes (an OS lock in
    # the instance folder); a killed station shows offline through its last will.
    start_relay(app)
    logging.info("station at http://%s:%d", args.host, args.port)
    gc.collect()
    gc.freeze()  # what start-up built lives on: the collector's full passes skip it, and are short
    serve(app, host=args.host, port=args.port, threads=args.threads)


if __name__ == "__main__":
    main()
