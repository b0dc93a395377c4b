"""berrykitd tells systemd when it is ready and stopping, and SIGHUP reads the config again while
claims are kept."""
import json
import os
import signal
import socket
import subprocess
import time

from conftest import BERRYKITD, Client


def test_ready_reloading_and_stopping_reach_notify_socket(tmp_path):
    notify_path = str(tmp_path / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(10)
    config = tmp_path / "berrykit.json"
    config.write_text(json.dumps({"log_level": "info"}))
    sock = str(tmp_path / "berrykit.sock")
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    daemon = subprocess.Popen([BERRYKITD, "--backend", "sim", "--socket", sock, "--config", str(config)],
                              env=env, stderr=subprocess.PIPE, text=True)
    try:
        ready = notify.recv(4096).decode()
        assert "READY=1" in ready
        assert os.path.exists(sock)  # READY comes once the socket takes clients

        c = Client(sock)
        assert c.request("claim", part="red")["ok"]
        c.request("set", part="red", value=1)

        config.write_text(json.dumps({"log_level": "debug", "clients": {"max": 10}}))
        daemon.send_signal(signal.SIGHUP)
        assert "RELOADING=1" in notify.recv(4096).decode()
        assert "READY=1" in notify.recv(4096).decode()
        # the claim and the LED survived the reload
        assert c.request("get", part="red")["state"]["value"] == 1
        other = Client(sock)
        assert other.request("claim", part="red")["error"]["code"] == "part_in_use"

        config.write_text('{"clients": {"max": -5}}')
        daemon.send_signal(signal.SIGHUP)
        assert "RELOADING=1" in notify.recv(4096).decode()
        assert "READY=1" in notify.recv(4096).decode()
        assert c.request("hello")["ok"]  # a bad new config keeps the old one

        daemon.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in notify.recv(4096).decode()
        assert daemon.wait(10) == 0
        log = daemon.stderr.read()
        assert "config read again from" in log
        assert "clients.max" in log and "the old one stays" in log
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        notify.close()


def test_the_watchdog_is_pinged_from_the_event_loop(tmp_path):
    notify_path = str(tmp_path / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(5)
    sock = str(tmp_path / "berrykit.sock")
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="200000")  # WatchdogSec=0.2
    env.pop("WATCHDOG_PID", None)
    daemon = subprocess.Popen([BERRYKITD, "--backend", "sim", "--socket", sock], env=env,
                              stderr=subprocess.DEVNULL)
    try:
        pings = []
        t0 = time.monotonic()
        while len(pings) < 5:
            message = notify.recv(4096).decode()
            if "WATCHDOG=1" in message:
                pings.append(time.monotonic() - t0)
        # every half interval (0.1 s): five pings take about half a second
        assert 0.3 < pings[-1] < 2.0, pings
    finally:
        daemon.terminate()
        daemon.wait(10)
        notify.close()
