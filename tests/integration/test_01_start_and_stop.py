"""berrykitd starts on the simulated board, answers, and stops cleanly on SIGTERM and Ctrl+C."""
import os
import signal
import subprocess

from conftest import BERRYKITD, Client, Daemon


def test_starts_answers_and_stops_on_sigterm(tmp_path):
    d = Daemon(tmp_path)
    c = Client(d.socket)
    hello = c.request("hello", protocol=1, program="test")
    assert hello["ok"] and hello["board"] == "classroom" and hello["backend"] == "sim"
    c.close()
    assert d.stop() == 0
    assert not os.path.exists(d.socket)  # the socket is removed
    assert "serving the classroom board (sim)" in d.log
    assert "berrykitd stopped" in d.log


def test_ctrl_c_stops_it_too(tmp_path):
    d = Daemon(tmp_path)
    assert d.stop(signal.SIGINT) == 0
    assert "Ctrl+C" in d.log


def test_outputs_go_back_to_rest_when_it_stops(tmp_path):
    d = Daemon(tmp_path)
    c = Client(d.socket)
    c.request("claim", part="red")
    assert c.request("set", part="red", value=1)["state"]["value"] == 1
    assert d.stop() == 0  # the client is disconnected first: its LED goes off before the board closes


def test_a_second_daemon_on_the_same_socket_says_so(tmp_path):
    d = Daemon(tmp_path)
    second = subprocess.run([BERRYKITD, "--backend", "sim", "--socket", d.socket], capture_output=True,
                            text=True, timeout=10)
    assert second.returncode == 1
    assert "another berrykitd is already running" in second.stderr
    assert "sudo systemctl stop berrykitd" in second.stderr and "berrykit sim" in second.stderr  # what to do, both ways
    assert d.stop() == 0


def test_check_config_on_a_bad_file_names_the_key(tmp_path):
    bad = tmp_path / "berrykit.json"
    bad.write_text('{"sensors": {"temperature": {"period": -2}}}')
    result = subprocess.run([BERRYKITD, "--config", str(bad), "--check-config"], capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 2
    assert "sensors.temperature.period: must be between 0.1 and 3600 seconds, got -2" in result.stderr
