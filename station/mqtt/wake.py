"""The commit hooks: after a commit that added events, the relays and feeds of its database wake.

Web requests only commit; waking the relay is all they do for MQTT. Listeners are held weakly,
so a relay or feed that is gone is forgotten without saying so.
"""

import functools
import threading
import weakref

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession

from station import events
from station.models import Event

_listeners: "weakref.WeakSet" = weakref.WeakSet()  # relays and feeds of this process
_listeners_lock = threading.Lock()
_hooked = False


def listen(obj) -> None:
    """Wake `obj` (its `notify()`) after commits on the database at its `engine_url`."""
    with _listeners_lock:
        _listeners.add(obj)


def unlisten(obj) -> None:
    """Stop waking `obj`."""
    with _listeners_lock:
        _listeners.discard(obj)


def _after_flush(session, _context):
    if any(isinstance(o, Event) for o in session.new):
        session.info[events.ADDED] = True


def _after_commit(session):
    """After a session's commit: wake the relays and feeds of its database."""
    if not session.info.pop(events.ADDED, False) or not _listeners:  # len() is cheap, list() not
        return
    with _listeners_lock:
        listeners = list(_listeners)
    bind = session.get_bind()
    url = _url_text(bind.url) if bind is not None else ""
    for listener in listeners:
        if listener.engine_url == url:
            listener.notify()


@functools.lru_cache(maxsize=8)
def _url_text(url) -> str:
    return str(url)  # rendering a URL costs more than a scan's event insert


def _after_rollback(session):
    session.info.pop(events.ADDED, None)


def install_commit_hook() -> None:
    """Wake relays and dashboards of this process after every commit that added events."""
    global _hooked
    if not _hooked:
        sa_event.listen(OrmSession, "after_flush", _after_flush)
        sa_event.listen(OrmSession, "after_commit", _after_commit)
        sa_event.listen(OrmSession, "after_soft_rollback",
                        lambda session, _tx: _after_rollback(session))
        _hooked = True
