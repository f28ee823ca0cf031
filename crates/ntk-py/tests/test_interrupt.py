"""Ctrl-C stops a long kernel (empirical or analytic) between tiles: the engine runs on a worker thread
with the GIL released while the calling thread polls for signals every 50 ms and, on
SIGINT, sets the engine's cancel flag (``ntk_engine::empirical_cancellable``,
``analytic_cancellable``).

"Between tiles" is checked by time against the same kernel's full run on this machine: the
signal comes at 15% of the full time, so a run that is not stopped has 85% of it left, and
the call must return within 25% of the full time after the signal (measured: ~0.05 s after
it, for full runs of 1.5-2.5 s on a loaded 2-core machine). Both schedules: one hidden
layer (streamed) and two (stored); the signal from ``_thread.interrupt_main`` and from a
real ``SIGINT``."""

import _thread
import os
import signal
import threading
import time

import numpy as np
import pytest

import ntk

BIG = np.random.default_rng(0).standard_normal((6000, 20))


@pytest.fixture(autouse=True)
def python_handles_sigint():
    """Python's own SIGINT handler, whatever the test runner inherited: a process started
    in the background by a non-interactive shell (as CI may start it) inherits SIGINT
    ignored, and Python then never raises KeyboardInterrupt."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def sigint():
    os.kill(os.getpid(), signal.SIGINT)


# The empirical kernel in both schedules (one hidden layer: streamed; two: stored), and the
# analytic kernel (`kernel`, stopped between bands of tile rows).
CASES = {
    "streamed": ([2048], lambda m, x: m.empirical(x)),
    "stored": ([512, 512], lambda m, x: m.empirical(x)),
    "analytic": ([512, 512, 512], lambda m, x: m.kernel(np.tile(x, (2, 1)), None, "ntk")),
}


@pytest.mark.parametrize("send", [_thread.interrupt_main, sigint], ids=["interrupt_main", "SIGINT"])
@pytest.mark.parametrize("case", list(CASES))
def test_keyboard_interrupt_stops_the_kernel(case, send):
    widths, call = CASES[case]
    m = ntk.Mlp(widths=widths)
    full = timed(lambda: call(m, BIG))
    delay = 0.15 * full
    timer = threading.Timer(delay, send)
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        call(m, BIG)
        # Not reached when the kernel was stopped; if it finished, the pending signal
        # is raised by the next bytecode and the time check below tells.
    elapsed = time.perf_counter() - start
    timer.join()
    assert elapsed - delay < 0.25 * full, (elapsed, delay, full)
    # The module is usable afterwards, with the same results as before.
    np.testing.assert_array_equal(call(m, BIG[:50]), call(m, BIG[:50]))


def test_the_gil_is_released_while_the_engine_works():
    """A Python thread keeps running during a long kernel (it would be frozen if the call
    held the GIL): it counts while the main thread is inside ``empirical``."""
    m = ntk.Mlp(widths=[512, 512])
    count, inside, done = [0], threading.Event(), threading.Event()

    def spin():
        inside.wait()
        while not done.is_set():
            count[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    inside.set()
    before = count[0]
    m.empirical(BIG)
    during = count[0] - before
    done.set()
    t.join()
    assert during > 50, during
