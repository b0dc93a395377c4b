"""The berrykit command against the real berrykitd on the simulated board (daemon/CLI.md)."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import Client

BERRYKIT = os.environ.get("BERRYKIT_CLI", "berrykit")


def berrykit(daemon_or_socket, *args):
    socket = getattr(daemon_or_socket, "socket", daemon_or_socket)
    return subprocess.run([BERRYKIT, "--socket", socket, *args], capture_output=True, text=True, timeout=20)


def start(daemon, *args):
    return subprocess.Popen([BERRYKIT, "--socket", daemon.socket, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(stream, deadline=10):
    """The first line the command prints (it says it is ready), without waiting for ever."""
    import select
    ready, _, _ = select.select([stream], [], [], deadline)
    assert ready, "berrykit printed nothing"
    return stream.readline()


def test_status_names_the_board_backend_and_parts(daemon):
    result = berrykit(daemon, "status")
    assert result.returncode == 0, result.stderr
    assert "berrykitd is running on " + daemon.socket in result.stdout
    assert "board:     classroom" in result.stdout
    assert "backend:   sim" in result.stdout
    assert "parts:     12" in result.stdout
    assert "in use:    nothing" in result.stdout


def test_parts_is_a_table_with_owners(daemon, connect):
    traffic = connect("traffic.py")
    assert traffic.request("claim", part="amber")["ok"]
    result = berrykit(daemon, "parts")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "LINES", "STATE", "OWNER"]
    red = next(line for line in lines if line.startswith("red "))
    assert red.split() == ["red", "LED", "GPIO17", "off", "-"]
    amber = next(line for line in lines if line.startswith("amber "))
    assert "traffic.py (pid %d)" % os.getpid() in amber
    assert "amber by traffic.py" in berrykit(daemon, "status").stdout


def test_get_and_read(daemon):
    assert berrykit(daemon, "get", "red").stdout == "red: off\n"
    assert berrykit(daemon, "get", "button").stdout == "button: not pressed\n"
    result = berrykit(daemon, "read", "temperature")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "temperature: 21.5 °C\n"


def test_json_is_the_daemons_json(daemon):
    read = json.loads(berrykit(daemon, "--json", "read", "temperature").stdout)
    assert read["ok"] is True and read["value"] == 21.5 and read["unit"] == "°C"
    status = json.loads(berrykit(daemon, "status", "--json").stdout)
    assert status["board"] == "classroom" and len(status["parts"]) == 12
    parts = json.loads(berrykit(daemon, "--json", "parts").stdout)
    assert [p["name"] for p in parts["parts"]][:3] == ["red", "amber", "green"]
    refused = berrykit(daemon, "--json", "get", "rde")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"]["code"] == "unknown_part"


def test_an_unknown_part_is_refused_with_a_suggestion(daemon):
    result = berrykit(daemon, "get", "rde")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "there is no part called 'rde'" in result.stderr
    assert "Did you mean 'red'?" in result.stderr
    # The advice is for this command, not Python's LED(17): and it works (below).
    assert result.stderr.rstrip().endswith("You can also use a GPIO number, like 17 or GPIO17."), result.stderr


def test_a_part_can_be_named_by_its_gpio_number(daemon):
    lit = berrykit(daemon, "set", "17", "on", "--once")
    assert lit.returncode == 0, lit.stderr
    assert lit.stdout.startswith("red was on"), lit.stdout
    assert berrykit(daemon, "get", "GPIO21").stdout == "button: not pressed\n"
    assert berrykit(daemon, "read", "26").stdout.startswith("light: ")
    for ref, message in [("3", "berrykitd has no part on GPIO3: use a part's name, like 'red'"),
                         ("GPIO5", "GPIO5 is one of the lines of 'rgb' (its red): use the part's name, `rgb`")]:
        refused = berrykit(daemon, "get", ref)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    # `watch 21`: test_watch_shows_a_press, by GPIO number.


def test_no_daemon_says_how_to_start_one(tmp_path):
    missing = str(tmp_path / "nobody.sock")
    result = berrykit(missing, "status")
    assert result.returncode == 3
    assert "berrykitd is not running (no %s)" % missing in result.stderr
    assert "sudo systemctl start berrykitd" in result.stderr
    assert "berrykitd --backend sim --socket " + missing in result.stderr


def test_a_bad_command_line_is_exit_2(daemon):
    assert berrykit(daemon, "bogus").returncode == 2
    assert "berrykit has no command 'bogus'" in berrykit(daemon, "bogus").stderr
    assert berrykit(daemon, "get").returncode == 2
    bad = berrykit(daemon, "set", "red", "blue")
    assert bad.returncode == 2
    assert "an LED is set to on, off, or a brightness from 0 to 1" in bad.stderr


def test_set_holds_the_part_until_ctrl_c(daemon, connect):
    holder = start(daemon, "set", "red", "on")
    try:
        assert wait_for_line(holder.stdout) == "red is on; press Ctrl+C to let go\n"
        other = connect("other.py")
        assert other.request("get", part="red")["state"]["value"] == 1.0
        refused = berrykit(daemon, "set", "red", "off", "--once")
        assert refused.returncode == 1
        assert "already used by another program (pid %d, 'berrykit')" % holder.pid in refused.stderr
        holder.send_signal(signal.SIGINT)
        assert holder.wait(10) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
    deadline = time.monotonic() + 5
    while berrykit(daemon, "get", "red").stdout != "red: off\n":  # back to rest once it let go
        assert time.monotonic() < deadline, "red stayed on after berrykit let go"
        time.sleep(0.02)


def test_set_once_sets_and_lets_go(daemon):
    result = berrykit(daemon, "set", "rgb", "1,0,0.5", "--once")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rgb was 1,0,0.5")
    too_bright = berrykit(daemon, "set", "red", "2", "--once")
    assert too_bright.returncode == 1
    assert "must be between 0 and 1, got 2" in too_bright.stderr


@pytest.mark.parametrize("button", ["button", "21"], ids=["by name", "by GPIO number"])
def test_watch_shows_a_press(daemon, button):
    watcher = start(daemon, "watch", button)
    try:
        assert "press Ctrl+C to stop" in wait_for_line(watcher.stderr)
        teacher = Client(daemon.socket)
        assert teacher.request("sim_press", part="button")["ok"]
        line = wait_for_line(watcher.stdout)
        assert "button" in line and "pressed" in line
        teacher.close()
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(10) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()


def test_watch_starts_and_stops_cleanly_on_sigterm(daemon):
    # watch subscribes, waits, and ends with 0 on SIGTERM and on Ctrl+C.
    for sig in (signal.SIGTERM, signal.SIGINT):
        watcher = start(daemon, "watch", "button")
        try:
            assert "press Ctrl+C to stop" in wait_for_line(watcher.stderr)
            watcher.send_signal(sig)
            assert watcher.wait(10) == 0
        finally:
            if watcher.poll() is None:
                watcher.kill()


def test_watch_ends_with_exit_3_when_the_daemon_stops(daemon):
    watcher = start(daemon, "watch")
    try:
        wait_for_line(watcher.stderr)
        assert daemon.stop() == 0
        assert watcher.wait(10) == 3
        assert "hung up" in watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
