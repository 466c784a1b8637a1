"""`model.prefetch`: media work on a few threads, results in input order, bounded lookahead, one state per thread."""

from __future__ import annotations

import threading
import time

from future_l1.model.prefetch import prefetch


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
        return key * key

    seen = []
    for key, result in prefetch(range(12), work, workers=3, ahead=4, state=state):
        with lock:
            waiting = len(started) - len(seen)  # started but not yet handed over
        assert waiting <= 4
        seen.append(key)
        if key == 5:
            assert isinstance(result, ValueError) and "bad sample 5" in str(result)
        else:
            assert result == key * key
    assert seen == list(range(12)) and sorted(started) == list(range(12))
    assert 1 <= len(states) <= 3


def test_stopping_early_does_not_run_everything():
    ran = []

    def work(key, _):
        time.sleep(0.01)
        ran.append(key)
        return key

    for key, _ in prefetch(range(100), work, workers=1, ahead=2):
        if key == 2:
            break
    time.sleep(0.05)
    assert len(ran) <= 5
