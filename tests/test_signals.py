"""The main loop's signals: none is lost in a burst, and a stop from another thread wakes it."""

import signal
import threading
import time

from jaga.signals import SignalInbox


def test_a_burst_of_reloads_does_not_hide_the_stop_behind_it():
    """Each signal costs the wakeup socket a buffer slot; after a few hundred the socket is full and
    later ones are dropped. What arrived is kept beside the socket, so the SIGTERM after 3,000 SIGHUPs
    (every one of them delivered before the loop looks) still reaches the loop."""
    with SignalInbox() as inbox:
        for _ in range(3000):
            signal.raise_signal(signal.SIGHUP)
        signal.raise_signal(signal.SIGTERM)
        assert inbox.wait(0) == {signal.SIGHUP, signal.SIGTERM}
        assert inbox.wait(0) == set(), "what was read is not read again"


def test_a_poke_from_another_thread_wakes_the_wait_at_once():
    with SignalInbox() as inbox:
        poker = threading.Timer(0.05, inbox.poke)
        poker.start()
        began = time.monotonic()
        assert inbox.wait(30) == set()
        poker.join()
        assert time.monotonic() - began < 25, "the poke, not the timeout, ended the wait"


def test_closing_gives_back_the_handlers_it_replaced():
    before = signal.getsignal(signal.SIGHUP)
    with SignalInbox() as inbox:
        assert signal.getsignal(signal.SIGHUP) is not before
    assert signal.getsignal(signal.SIGHUP) is before
    inbox.poke()  # a fatal error on another thread after the loop is gone: harmless
