"""Starts one gapmm-sim per test module on a free loopback port.

The simulator binary is `$GAPMM_SIM_BIN`, or `target/debug/gapmm-sim` of
this checkout (built by `cargo build --bin gapmm-sim`). Nothing here talks
to anything but 127.0.0.1.
"""

import os
import pathlib
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEY, SECRET = "simkey", "simsecret"


class Sim:
    def __init__(self, proc, rest):
        self.proc = proc
        self.rest = rest  # http://127.0.0.1:PORT
        self.ws = rest.replace("http://", "ws://")


def start_sim(*extra):
    binary = os.environ.get("GAPMM_SIM_BIN", str(ROOT / "target" / "debug" / "gapmm-sim"))
    proc = subprocess.Popen(
        [binary, "--port", "0", "--rate", "2000", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    rest = None
    deadline = time.monotonic() + 20
    for line in proc.stdout:
        if line.strip().startswith("REST"):
            rest = line.split()[-1]
            break
        if time.monotonic() > deadline:
            break
    if rest is None:
        proc.kill()
        raise RuntimeError("gapmm-sim did not print its REST address")
    # Keep reading its output so that the simulator never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return Sim(proc, rest)


@pytest.fixture(scope="module")
def sim(request):
    # A test module may ask for simulator flags (`SIM_ARGS`).
    s = start_sim(*getattr(request.module, "SIM_ARGS", ()))
    yield s
    s.proc.terminate()
    try:
        s.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        s.proc.kill()


def wait_for(what, check, timeout=10.0, every=0.05):
    """Polls `check` until it returns a true value (bounded); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
