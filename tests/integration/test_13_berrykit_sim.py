"""`berrykit sim`, the teacher's one command: it starts the simulated classroom (berrykitd with its
page, mosquitto, the cloud function), prints the page's address, lets kids' scripts find berrykitd
with no settings, and stops everything on Ctrl+C."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt

from broker import wait_until

CLI = os.environ.get("BERRYKIT_CLI", "berrykit")
PYTHON = "/usr/bin/python3"


def proc_stat(pid):
    """/proc/<pid>/stat's fields after the program's name: [state, ppid, ...]. OSError once it is gone."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


class Sim:
    def __init__(self, tmp_path, *args):
        self.runtime = tmp_path / "run"
        self.runtime.mkdir(mode=0o700, exist_ok=True)
        # Its socket goes to $XDG_RUNTIME_DIR/berrykit/: the test's own folder, not the user's.
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(self.runtime))
        self.env.pop("BERRYKIT_SOCKET", None)
        self.env.pop("BERRYKIT_BOARD", None)
        self.process = subprocess.Popen([CLI, "sim", "--port", "0", *args], env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.out = []
        deadline = time.monotonic() + 40
        while not any("Press Ctrl+C" in line for line in self.out):
            line = self.process.stdout.readline()
            assert line, f"berrykit sim ended: {''.join(self.out)}{self.process.stderr.read()}"
            self.out.append(line)
            assert time.monotonic() < deadline, "berrykit sim took more than 40 s to start"
        self.text = "".join(self.out)

    def field(self, pattern):
        found = re.search(pattern, self.text)
        assert found, f"{pattern!r} not in:\n{self.text}"
        return found.group(1)

    def children(self):
        """The programs it started: pids whose parent is berrykit sim."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if int(proc_stat(entry)[1]) == self.process.pid:
                        found.append(int(entry))
                except (OSError, IndexError):
                    pass
        return found

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl+C
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self.text += self.process.stdout.read()
        return self.process.returncode


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_berrykit_sim_runs_the_classroom_until_ctrl_c(tmp_path):
    sim = Sim(tmp_path)
    try:
        page = sim.field(r"the page: +(http://127\.0\.0\.1:\d+/)")
        broker = sim.field(r"mosquitto at mqtt://(127\.0\.0\.1:\d+)")
        logs = sim.field(r"logs: +(\S+)")
        assert "handler.py runs on its readings" in sim.text, sim.text
        socket_path = sim.runtime / "berrykit" / "berrykit.sock"
        assert socket_path.exists()
        programs = sim.children()
        assert len(programs) == 3, (programs, sim.text)  # mosquitto, berrykitd, the function runner

        board = get_json(page + "api/board")
        assert board["board"]["name"] == "classroom" and board["cloud"]["enabled"] is True

        # The readings go to the local broker.
        readings = []
        cloud = mqtt.Client()
        cloud.on_connect = lambda c, u, f, rc: c.subscribe("berrykit/classroom-pi/readings/#", qos=1)
        cloud.on_message = lambda c, u, m: readings.append(m.topic)
        host, port = broker.split(":")
        cloud.connect(host, int(port))
        cloud.loop_start()
        try:
            wait_until(lambda: "berrykit/classroom-pi/readings/temperature" in readings, 15, "a temperature reading")
        finally:
            cloud.loop_stop()
            cloud.disconnect()

        # A kid's script with no settings finds this berrykitd: red lights on the page.
        script = tmp_path / "lamp.py"
        script.write_text("from berrykit import LED\nred = LED('red')\nred.on()\nprint('on', flush=True)\ninput()\n")
        kid = subprocess.Popen([PYTHON, str(script)], env=sim.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            assert kid.stdout.readline().strip() == "on", kid.stderr.read()
            red = next(p for p in get_json(page + "api/board")["parts"] if p["name"] == "red")
            assert red["state"]["value"] == 1 and red["owner"]["program"] == "lamp.py", red
        finally:
            kid.communicate("\n", timeout=10)
    finally:
        code = sim.stop()
    assert code == 0, sim.text + sim.process.stderr.read()
    assert "stopped." in sim.text
    wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in programs), 5, "its programs to end")
    assert not os.path.exists(logs)
    assert not socket_path.exists()


def test_berrykit_sim_without_the_cloud(tmp_path):
    sim = Sim(tmp_path, "--no-cloud")
    try:
        assert "the cloud:        off (--no-cloud)" in sim.text, sim.text
        page = sim.field(r"the page: +(http://127\.0\.0\.1:\d+/)")
        assert get_json(page + "api/board")["cloud"] == {"enabled": False}
        assert len(sim.children()) == 1  # berrykitd alone
    finally:
        assert sim.stop() == 0


def test_berrykit_sim_says_why_when_berrykitd_cannot_start(tmp_path):
    """A second `berrykit sim` for the same user finds the first one's berrykitd."""
    first = Sim(tmp_path)
    try:
        second = subprocess.run([CLI, "sim", "--port", "0", "--no-cloud"], env=first.env, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 1, second
        assert "a berrykitd is already running on" in second.stderr and "stop it first" in second.stderr, second.stderr
        assert first.process.poll() is None  # the first classroom carries on
    finally:
        assert first.stop() == 0


def test_killing_berrykit_sim_stops_every_program_it_started(tmp_path):
    """A teacher's laptop may kill `berrykit sim` outright (a closed terminal, `kill -9`): the broker,
    berrykitd and the function runner must not be left running, and a new `berrykit sim` must start."""
    sim = Sim(tmp_path)
    programs = sim.children()
    assert len(programs) == 3, (programs, sim.text)
    names = {pid: open(f"/proc/{pid}/comm").read().strip() for pid in programs}
    sim.process.kill()
    sim.process.wait(10)

    def alive():
        # A child that has ended but is not yet reaped by init is a zombie: it has stopped too.
        running = []
        for pid in programs:
            try:
                if proc_stat(pid)[0] != "Z":
                    running.append(names[pid])
            except OSError:
                pass
        return running

    try:
        deadline = time.monotonic() + 10
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(), f"still running 10 s after berrykit sim was killed: {alive()}"
    finally:
        for pid in programs:  # whatever is left, so the test leaves nothing running
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    # What it left (its logs folder: nothing could remove it) does not stop the next classroom.
    again = Sim(tmp_path)
    try:
        assert len(again.children()) == 3, again.text
    finally:
        assert again.stop() == 0
