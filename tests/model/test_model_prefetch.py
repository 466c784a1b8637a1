"""`model.prefetch.Prefetch`: media work on a few threads, results in input order, bounded lookahead, one state per
thread, dropped results skipped, and `ready()` that never waits."""

from __future__ import annotations

import threading
import time

from future_l1.model.prefetch import Prefetch


def test_results_come_in_input_order_with_errors_in_place_and_bounded_lookahead():
    started, lock = [], threading.Lock()
    states = []

    def state():
        s = {"thread": threading.get_ident()}
        states.append(s)
        return s

    def work(key, s):
        with lock:
            started.append(key)
        assert s["thread"] == threading.get_ident()  # each thread has its own state
        time.sleep(0.02 * ((7 * key) % 5))  # finish out of order
        if key == 5:
            raise ValueError("bad sample 5")
        return None if key == 7 else key * key

    seen = []
    with Prefetch(range(12), work, workers=3, ahead=4, state=state, drop=lambda r: r is None) as media:
        for key, result in media:
            with lock:
                assert len(started) - len(seen) <= 5  # at most `ahead` waiting, plus a dropped one being skipped
            seen.append(key)
            if key == 5:
                assert isinstance(result, ValueError) and "bad sample 5" in str(result)
            else:
                assert result == key * key
    assert seen == [k for k in range(12) if k != 7] and sorted(started) == list(range(12))
    assert 1 <= len(states) <= 3


def test_ready_does_not_wait_and_the_end_is_ready():
    gate = threading.Event()

    def work(key, _):
        if key == 1:
            gate.wait(5)
        return key

    media = Prefetch(range(3), work, workers=2, ahead=3)
    assert next(media) == (0, 0)
    t = time.perf_counter()
    assert not media.ready() and time.perf_counter() - t < 1.0  # key 1 is still running: not ready, no waiting
    gate.set()
    assert [k for k, _ in media] == [1, 2]
    assert media.ready()  # exhausted: next() answers at once (StopIteration)


def test_stopping_early_does_not_run_everything():
    ran = []

    def work(key, _):
        time.sleep(0.01)
        ran.append(key)
        return key

    with Prefetch(range(100), work, workers=1, ahead=2) as media:
        for key, _ in media:
            if key == 2:
                break
    time.sleep(0.05)
    assert len(ran) <= 5
