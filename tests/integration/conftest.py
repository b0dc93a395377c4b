"""Starts the real berrykitd for a test, on a socket in a temporary folder, and stops it after."""
import json
import os
import signal
import socket
import subprocess
import time

import sys

import pytest

BERRYKITD = os.environ.get("BERRYKITD", "berrykitd")

# The berrykit package of this build, for the tests and for the Python programs they start.
PACKAGE = os.environ.get("BERRYKIT_PYTHONPATH", "")
if PACKAGE:
    sys.path.insert(0, PACKAGE)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE, os.environ.get("PYTHONPATH")) if p)


class Daemon:
    def __init__(self, tmp_path, *args, config=None):
        self.socket = str(tmp_path / "berrykit.sock")
        cmd = [BERRYKITD, "--backend", "sim", "--socket", self.socket]
        if config is not None:
            path = tmp_path / "berrykit.json"
            path.write_text(json.dumps(config))
            cmd += ["--config", str(path)]
        self.process = subprocess.Popen(cmd + list(args), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"berrykitd did not start: {self.process.stderr.read()}")
            time.sleep(0.01)

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self.log = self.process.stderr.read()
        return code


class Client:
    """A program talking to berrykitd: one JSON object per line each way."""

    def __init__(self, path, program=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)  # blocking: waits for room in the daemon's listen queue
        self.sock.settimeout(5)
        self.file = self.sock.makefile("rw", encoding="utf-8")
        self.next_id = 0
        self.events = []
        if program:
            assert self.request("hello", program=program)["ok"]

    def send_raw(self, text):
        self.sock.sendall(text.encode())

    def line(self):
        text = self.file.readline()
        return json.loads(text) if text else None

    def request(self, op, **fields):
        self.next_id += 1
        self.file.write(json.dumps({"id": self.next_id, "op": op, **fields}) + "\n")
        self.file.flush()
        while True:
            message = self.line()
            assert message is not None, "berrykitd hung up"
            if "event" in message:
                self.events.append(message)
                continue
            if message.get("id") == self.next_id:
                return message

    def close(self):
        self.file.close()
        self.sock.close()


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    d.stop()


@pytest.fixture
def connect(daemon):
    clients = []

    def make(program=None):
        c = Client(daemon.socket, program)
        clients.append(c)
        return c
    yield make
    for c in clients:
        c.close()
