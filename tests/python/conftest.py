"""Every test here runs on both paths a script can take to the board (BERRYKIT_TEST_PATH):

* ``in-process``: the script runs the simulated board itself (``BERRYKIT_BOARD=sim``);
* ``berrykitd``: the script talks to a real berrykitd (``BERRYKITD``, the built daemon) on the
  simulated board, started afresh for each test on a socket in the test's own folder, as every
  script on a Pi does.

Each test gets a fresh board whose clock moves only with ``sim.advance()`` (berrykitd with
``--clock manual``), or in real time with the ``real_clock_board`` fixture. A test that truly
cannot run through berrykitd says why with ``@pytest.mark.in_process_only("why")``; it is reported
as skipped on that path, with the reason.
"""
import json
import os
import signal
import subprocess
import time

import pytest

os.environ.setdefault("BERRYKIT_BOARD", "sim")

import berrykit  # noqa: E402
from berrykit import sim  # noqa: E402

PATH = os.environ.get("BERRYKIT_TEST_PATH", "in-process")
THROUGH_DAEMON = PATH == "berrykitd"
BERRYKITD = os.environ.get("BERRYKITD", "berrykitd")


def pytest_configure(config):
    config.addinivalue_line("markers", "in_process_only(reason): cannot run through berrykitd, and why")


def pytest_collection_modifyitems(config, items):
    if not THROUGH_DAEMON:
        return
    for item in items:
        marker = item.get_closest_marker("in_process_only")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason="in-process only: " + marker.args[0]))


def pytest_report_header(config):
    return f"berrykit path: {PATH}"


class Berrykitd:
    """A real berrykitd on the simulated board, for one test."""

    def __init__(self, folder, manual):
        self.socket = str(folder / "berrykit.sock")
        config = folder / "berrykit.json"
        config.write_text(json.dumps({}))
        cmd = [BERRYKITD, "--backend", "sim", "--socket", self.socket, "--config", str(config)]
        if manual:
            cmd += ["--clock", "manual"]
        self.process = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"berrykitd did not start: {self.process.stderr.read()}")
            time.sleep(0.005)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        log = self.process.stderr.read()
        assert code == 0, f"berrykitd ended with {code}: {log}"


class Board:
    """The board a test runs on, on this run's path."""

    def __init__(self, folder, monkeypatch):
        self.folder = folder
        self.monkeypatch = monkeypatch
        self.daemon = None

    def start(self, manual):
        berrykit.close_board()
        if not THROUGH_DAEMON:
            (sim.use_manual_clock if manual else sim.use_real_clock)()
            return
        self.stop_daemon()
        folder = self.folder / ("manual" if manual else "real")
        folder.mkdir(exist_ok=True)
        self.daemon = Berrykitd(folder, manual)
        self.monkeypatch.setenv("BERRYKIT_SOCKET", self.daemon.socket)
        kit = berrykit.use_board("auto")
        assert kit.backend_kind == "daemon" and kit.simulated

    def stop_daemon(self):
        if self.daemon is not None:
            berrykit.close_board()
            self.daemon.stop()
            self.daemon = None

    def stop(self):
        berrykit.close_board()
        self.stop_daemon()


@pytest.fixture(autouse=True)
def manual_board(tmp_path, monkeypatch):
    """Every test starts on a fresh simulated board whose clock moves only with sim.advance()."""
    board = Board(tmp_path, monkeypatch)
    board.start(manual=True)
    yield board
    board.stop()


@pytest.fixture
def real_clock_board(manual_board):
    manual_board.start(manual=False)
    yield manual_board
