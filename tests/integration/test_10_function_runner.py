"""The cloud-function runner, berrykit.functions, against a real mosquitto on a free loopback port.

Each test starts the broker from a temporary config and the runner as a /usr/bin/python3
subprocess, plays the Pi with a paho client (publishes readings, collects the commands sent to any
Pi), and stops everything it started. The handlers under test write what they got to a JSON-lines
file so the test sees the event and context the runner gave them.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from berrykit import functions
from broker import Broker, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"
LESSON_HANDLER = ROOT / "lessons" / "functions" / "handler.py"
SCRIPT = ROOT / "python-bindings" / "scripts" / "berrykit-functions"

# The start of every test handler: record(event, context) appends what the handler got.
RECORDING = '''
import json, os, time

def record(event, context):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "event": event, "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis()}}) + "\\n")
'''


class _AnyUuid4:
    """Equal to any random (version 4) uuid string: a command's id."""

    def __eq__(self, other):
        return isinstance(other, str) and uuid.UUID(other).version == 4

    def __repr__(self):
        return "<any uuid4>"


ANY_UUID4 = _AnyUuid4()


class Pi:
    """Plays the classroom Pis: publishes readings and events (QoS 1) and collects every command
    sent to any Pi. Subscribes again after a broker restart."""

    def __init__(self, port):
        self.commands = queue.Queue()
        self.subscriptions = 0
        self.cond = threading.Condition()
        self.client = mqtt.Client(client_id=f"test-pi-{uuid.uuid4().hex[:8]}", clean_session=True)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = lambda c, u, f, rc: c.subscribe("berrykit/+/commands/#", qos=1)
        self.client.on_subscribe = self._subscribed
        self.client.on_message = lambda c, u, m: self.commands.put((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.wait_subscribed(1)

    def _subscribed(self, client, userdata, mid, granted):
        with self.cond:
            self.subscriptions += 1
            self.cond.notify_all()

    def wait_subscribed(self, count, timeout=10):
        with self.cond:
            assert self.cond.wait_for(lambda: self.subscriptions >= count, timeout), "the test Pi did not subscribe"

    def send(self, topic, payload):
        info = self.client.publish(topic, json.dumps(payload), qos=1)
        info.wait_for_publish(5)
        assert info.is_published(), f"the test Pi could not publish to {topic}"

    def reading(self, sensor, value, seq, device="classroom-pi", unit="°C"):
        payload = {"device": device, "sensor": sensor, "value": value, "unit": unit,
                   "ts": "2026-11-22T10:15:30.123Z", "seq": seq}
        self.send(f"berrykit/{device}/readings/{sensor}", payload)
        return payload

    def event(self, part, value, seq, device="classroom-pi"):
        payload = {"device": device, "part": part, "value": value, "ts": "2026-11-22T10:15:31.456Z", "seq": seq}
        self.send(f"berrykit/{device}/events/{part}", payload)
        return payload

    def command(self, timeout=10):
        try:
            return self.commands.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no command came in {timeout} s") from None

    def no_more_commands(self, wait=0.3):
        time.sleep(wait)
        left = []
        while not self.commands.empty():
            left.append(self.commands.get_nowait())
        assert left == [], f"unexpected commands: {left}"

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class Runner:
    """``python3 -m berrykit.functions`` as a subprocess; its log (stderr) goes to a file."""

    def __init__(self, tmp_path, handler, args, env):
        self.name = f"runner-{uuid.uuid4().hex[:6]}"
        self.log_path = tmp_path / f"{self.name}.log"
        self.record = tmp_path / f"{self.name}.jsonl"
        env = dict(os.environ, RECORD=str(self.record), **env)
        with open(self.log_path, "w") as log, open(tmp_path / f"{self.name}.out", "w") as out:
            self.process = subprocess.Popen([PYTHON, "-m", "berrykit.functions", str(handler), *args],
                                            stdout=out, stderr=log, env=env)

    def log(self):
        return self.log_path.read_text()

    def wait_for(self, text, count=1, timeout=10):
        def seen():
            if self.log().count(text) >= count:
                return True
            assert self.process.poll() is None, f"the runner ended ({self.process.returncode}):\n{self.log()}"
            return False
        wait_until(seen, timeout, f"{text!r} in the runner's log:\n{self.log()}")

    def records(self):
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def wait_records(self, count, timeout=10):
        wait_until(lambda: len(self.records()) >= count, timeout, f"{count} handled readings:\n{self.log()}")
        return self.records()

    def signal(self, sig):
        self.process.send_signal(sig)

    def wait(self, timeout=10):
        return self.process.wait(timeout)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    yield b
    b.stop()


@pytest.fixture
def pi(broker):
    p = Pi(broker.port)
    yield p
    p.close()


@pytest.fixture
def start_runner(tmp_path, broker):
    """start_runner(handler source or path, *args): a runner on the test broker, connected."""
    runners = []

    def start(handler, *args, wait_connected=True, env=None):
        if isinstance(handler, str):
            path = tmp_path / "handler.py"
            path.write_text(RECORDING + handler)
            handler = path
        r = Runner(tmp_path, handler, ["--broker", f"mqtt://127.0.0.1:{broker.port}", *args], env or {})
        runners.append(r)
        if wait_connected:
            r.wait_for("connected to")
        return r
    yield start
    for r in runners:
        r.kill()


def run_once(args, env=None, timeout=20, command=None):
    """Runs the runner to its end (for the errors that stop it from starting)."""
    return subprocess.run(command or [PYTHON, "-m", "berrykit.functions", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, **(env or {})))


# ---- a reading in, a command out ----------------------------------------------------------------
def test_a_reading_reaches_the_handler_as_lambda_would_get_it_and_the_command_reaches_that_pi(pi, start_runner):
    runner = start_runner('''
def handler(event, context):
    record(event, context)
    return {"part": "red", "action": "on"}
''')
    sent = pi.reading("temperature", 26.5, seq=41)
    topic, command = pi.command()
    assert topic == "berrykit/classroom-pi/commands/red"
    assert command == {"action": "on", "id": ANY_UUID4}

    [got] = runner.wait_records(1)
    # What the rule SELECT *, topic() AS topic ... hands a Lambda function: the JSON plus topic.
    assert got["event"] == dict(sent, topic="berrykit/classroom-pi/readings/temperature")
    context = got["context"]
    assert context["function_name"] == "berrykit-handler"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"].endswith(":function:berrykit-handler")
    assert context["memory_limit_in_mb"] == "128"   # a string, as on Lambda
    assert uuid.UUID(context["aws_request_id"])
    assert context["log_group_name"] == "/aws/lambda/berrykit-handler"
    assert "[$LATEST]" in context["log_stream_name"]
    assert 0 < context["remaining"] <= 3000
    runner.wait_for("temperature on classroom-pi = 26.5 °C → handler returned: turn on red")

    # Another Pi's reading: the command goes back to that Pi, with a new request id.
    pi.reading("temperature", 19.0, seq=1, device="lab-pi")
    topic, command = pi.command()
    assert topic == "berrykit/lab-pi/commands/red" and command["action"] == "on"
    assert runner.wait_records(2)[1]["context"]["aws_request_id"] != context["aws_request_id"]
    pi.no_more_commands()


def test_events_lists_values_and_send_command_all_reach_the_pis(pi, start_runner):
    runner = start_runner('''
from berrykit.functions import send_command

def handler(event, context):
    record(event, context)
    send_command(event["device"], "buzzer", "blink", {"on_time": 0.2, "off_time": 0.2, "n": 3})
    return [{"part": "rgb", "value": [1, 0, 0.5]}, {"part": "amber", "action": "toggle", "device": "lab-pi"}]
''')
    sent = pi.event("button", "pressed", seq=7)
    assert pi.command() == ("berrykit/classroom-pi/commands/buzzer",
                            {"action": "blink", "value": {"on_time": 0.2, "off_time": 0.2, "n": 3},
                             "id": ANY_UUID4})
    topic, command = pi.command()
    assert (topic, command["action"], command["value"]) == ("berrykit/classroom-pi/commands/rgb", "set", [1, 0, 0.5])
    topic, command = pi.command()
    assert (topic, command["action"], "value" in command) == ("berrykit/lab-pi/commands/amber", "toggle", False)
    assert runner.records()[0]["event"] == dict(sent, topic="berrykit/classroom-pi/events/button")
    runner.wait_for("button on classroom-pi: pressed → handler returned: set rgb to [1, 0, 0.5], "
                    "toggle amber on lab-pi")
    pi.no_more_commands()


# ---- a handler that fails, or returns something wrong ------------------------------------------
def test_a_handler_that_raises_is_logged_with_its_traceback_and_the_next_reading_is_handled(pi, start_runner):
    runner = start_runner('''
def handler(event, context):
    record(event, context)
    return {"part": "red", "value": 100 / event["value"]}
''')
    pi.reading("temperature", 0, seq=1)
    pi.reading("temperature", 4, seq=2)
    topic, command = pi.command()
    assert (topic, command["action"], command["value"]) == ("berrykit/classroom-pi/commands/red", "set", 25.0)
    pi.no_more_commands()
    assert [r["event"]["seq"] for r in runner.records()] == [1, 2]
    log = runner.log()
    assert ("handler.py's handler() raised an error for temperature on classroom-pi = 0 °C "
            "(topic berrykit/classroom-pi/readings/temperature, seq 1); nothing was sent, carrying on") in log
    assert "Traceback (most recent call last):" in log
    assert 'handler.py", line' in log and 'return {"part": "red", "value": 100 / event["value"]}' in log
    assert "ZeroDivisionError: division by zero" in log
    assert "functions.py" not in log   # the runner's own frames are left out
    assert "temperature on classroom-pi = 4 °C → handler returned: set red to 25.0" in log


def test_a_bad_return_value_is_logged_with_what_is_wrong_and_nothing_is_sent(pi, start_runner):
    runner = start_runner('''
RETURNS = {
    1: {"part": "red", "action": "explode"},
    2: "turn on red",
    3: {"part": "red"},
    4: {"part": "Red LED", "action": "on"},
    5: [{"part": "red", "action": "on"}, {"part": "amber", "action": "on", "value": 3}],
    6: {"part": "red", "action": "on", "colour": "red"},
    7: {"part": "green", "action": "on"},
}

def handler(event, context):
    return RETURNS[event["seq"]]
''')
    for seq in range(1, 8):
        pi.reading("temperature", 20 + seq, seq=seq)
    topic, command = pi.command()
    assert (topic, command["action"]) == ("berrykit/classroom-pi/commands/green", "on")
    pi.no_more_commands()   # none of 1-6, not even the good first half of 5
    log = runner.log()
    for seq, what in [(1, "'action' must be one of on, off, toggle, set, blink, got 'explode'"),
                      (2, "a command is a dict like {\"part\": \"red\", \"action\": \"on\"} (or a list of them, "
                          "or None), got str 'turn on red'"),
                      (3, "there is no 'action' (one of on, off, toggle, set, blink) and no 'value'"),
                      (4, "'part' must name a part of the kit, like \"red\", got 'Red LED'"),
                      (5, "item 1 of the list: 'on' takes no value (got 3)"),
                      (6, "a command has part, action, value and device, not 'colour'")]:
        line = next((line for line in log.splitlines() if f"seq {seq})" in line), None)
        assert line is not None, f"no log line for seq {seq}:\n{log}"
        assert "error: handler.py's handler() returned something that is not a command, for temperature on " \
               f"classroom-pi = {20 + seq} °C (topic berrykit/classroom-pi/readings/temperature, seq {seq})" in line
        assert what in line and "Nothing was sent." in line, line


# ---- several runners, duplicates ----------------------------------------------------------------
def test_two_runners_in_one_group_split_the_readings_each_handled_once(pi, start_runner):
    handler = '''
def handler(event, context):
    record(event, context)
'''
    first, second = start_runner(handler), start_runner(handler)
    for seq in range(1, 101):
        pi.reading("light", seq / 100, seq=seq, unit=None)
    wait_until(lambda: len(first.records()) + len(second.records()) >= 100, 15, "100 handled readings")
    time.sleep(0.3)   # a reading handled twice would show up here
    a = [r["event"]["seq"] for r in first.records()]
    b = [r["event"]["seq"] for r in second.records()]
    assert a and b, f"one runner got everything: {len(a)} and {len(b)}"
    assert len(a) + len(b) == 100
    assert sorted(a + b) == list(range(1, 101))


def test_a_duplicate_seq_is_dropped_for_its_device_only(pi, start_runner):
    runner = start_runner('''
def handler(event, context):
    record(event, context)
''', "-v")
    for device, seq in [("classroom-pi", 1), ("classroom-pi", 2), ("classroom-pi", 1), ("lab-pi", 1),
                        ("classroom-pi", 2), ("classroom-pi", 3)]:
        pi.reading("temperature", 21.5, seq=seq, device=device)
    runner.wait_records(4)
    time.sleep(0.2)   # a duplicate handled late would show up here
    handled = [(r["event"]["device"], r["event"]["seq"]) for r in runner.records()]
    assert handled == [("classroom-pi", 1), ("classroom-pi", 2), ("lab-pi", 1), ("classroom-pi", 3)]
    log = runner.log()
    assert "dropped a duplicate: seq 1 from classroom-pi (berrykit/classroom-pi/readings/temperature)" in log
    assert "dropped a duplicate: seq 2 from classroom-pi" in log


# ---- starting, stopping, the broker going away -------------------------------------------------
@pytest.mark.parametrize("content, args, expected", [
    (None, [], "there is no file"),
    ("def handle(event, context):\n    pass\n", [], "has no function called 'handler' (it has: handle)"),
    ("def handler(event):\n    pass\n", [], "handler(event) must take two arguments, like def handler(event, context):"),
    ("def handler(event, context)\n    pass\n", [], "could not be loaded, so no handler runs"),
    ("def handler(event, context):\n    pass\n", ["--handler-name", "on_reading"],
     "has no function called 'on_reading' (it has: handler)"),
], ids=["missing file", "no handler", "wrong arguments", "syntax error", "other name"])
def test_a_missing_handler_file_or_function_is_a_clear_error(tmp_path, content, args, expected):
    path = tmp_path / "nope.py"
    if content is not None:
        path.write_text(content)
    result = run_once([str(path), "--broker", f"mqtt://127.0.0.1:{free_port()}", *args])
    assert result.returncode == 1
    assert expected in result.stderr and "error: " in result.stderr, result.stderr
    assert str(path.name) in result.stderr
    assert "Traceback" not in result.stderr or content == "def handler(event, context)\n    pass\n"


def test_the_berrykit_functions_command_runs_the_runner(tmp_path):
    result = run_once([], command=[str(SCRIPT), str(tmp_path / "missing.py")])
    assert result.returncode == 1
    assert f"there is no file {tmp_path / 'missing.py'}" in result.stderr
    assert "usage: berrykit-functions" in run_once([], command=[str(SCRIPT), "--help"]).stdout


def test_an_unreachable_broker_is_a_clear_error(tmp_path):
    port = free_port()
    result = run_once([str(LESSON_HANDLER)], env={"BERRYKIT_MQTT_URL": f"mqtt://127.0.0.1:{port}"})
    assert result.returncode == 1
    assert f"could not reach the MQTT broker at 127.0.0.1:{port} (nothing is listening there" in result.stderr
    assert "Is mosquitto running? Start it with 'sudo systemctl start mosquitto'" in result.stderr
    assert "--broker" in result.stderr


def test_the_runner_reconnects_after_the_broker_restarts(broker, pi, start_runner):
    runner = start_runner('''
def handler(event, context):
    return {"part": "red", "value": event["value"]}
''')
    pi.reading("light", 0.25, seq=1)
    assert pi.command()[1]["value"] == 0.25
    broker.stop()
    runner.wait_for("lost the connection to the MQTT broker at mqtt://127.0.0.1")
    broker.start()
    runner.wait_for("connected again to", timeout=15)
    pi.wait_subscribed(2, timeout=15)
    pi.reading("light", 0.75, seq=2)
    topic, command = pi.command()
    assert (topic, command["value"]) == ("berrykit/classroom-pi/commands/red", 0.75)
    assert runner.process.poll() is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_a_signal_stops_the_runner_cleanly_after_the_running_handler(pi, start_runner, sig):
    runner = start_runner('''
def handler(event, context):
    record(event, context)
    time.sleep(1)
    return {"part": "red", "action": "off"}
''')
    pi.reading("temperature", 20, seq=1)
    runner.wait_records(1)            # the handler is running now
    started = time.monotonic()
    runner.signal(sig)
    assert runner.wait(10) == 0
    assert time.monotonic() - started < 5
    topic, command = pi.command(timeout=2)   # the running handler's command still went out
    assert (topic, command["action"]) == ("berrykit/classroom-pi/commands/red", "off")
    log = runner.log()
    assert "stopping: letting a running handler finish, then disconnecting" in log and log.rstrip().endswith("stopped")
    assert "Traceback" not in log


class _BrokerThatDiesOnUnsubscribe:
    """Just enough of an MQTT 3.1.1 broker on a free loopback port: it accepts the runner and its
    subscription, then closes the connection when the runner unsubscribes, with no answer. That is
    what the runner sees when the broker is stopped at the same moment as the runner, as a killed
    `berrykit sim` does to both."""

    def __init__(self):
        import socket
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.unsubscribed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _packet(conn):
        header = conn.recv(1)
        if not header:
            return None, b""
        length, shift = 0, 0
        while True:
            byte = conn.recv(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        body = b""
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                return None, b""
            body += chunk
        return header[0] >> 4, body

    def _serve(self):
        conn, _ = self.server.accept()
        with conn:
            while True:
                kind, body = self._packet(conn)
                if kind is None:
                    return
                if kind == 1:      # CONNECT -> CONNACK, accepted
                    conn.sendall(bytes([0x20, 2, 0, 0]))
                elif kind == 8:    # SUBSCRIBE -> SUBACK, QoS 1 for every filter
                    packet_id, rest, filters = body[:2], body[2:], 0
                    while rest:
                        size = int.from_bytes(rest[:2], "big")
                        rest, filters = rest[2 + size + 1:], filters + 1
                    conn.sendall(bytes([0x90, 2 + filters]) + packet_id + bytes([1] * filters))
                elif kind == 12:   # PINGREQ -> PINGRESP
                    conn.sendall(bytes([0xD0, 0]))
                elif kind == 10:   # UNSUBSCRIBE: the broker goes away instead of answering
                    self.unsubscribed.set()
                    return

    def close(self):
        self.server.close()


def test_a_runner_whose_broker_goes_away_while_it_stops_ends_at_once(tmp_path):
    """Stopping waits (up to 30 s) for the broker to answer the unsubscribe; a broker that has gone
    will never answer, so the runner must not wait for it."""
    fake = _BrokerThatDiesOnUnsubscribe()
    handler = tmp_path / "handler.py"
    handler.write_text(RECORDING + "def handler(event, context):\n    return None\n")
    runner = Runner(tmp_path, handler, ["--broker", f"mqtt://127.0.0.1:{fake.port}"], {})
    try:
        runner.wait_for("connected to")
        started = time.monotonic()
        runner.signal(signal.SIGTERM)
        assert runner.wait(20) == 0, runner.log()
        took = time.monotonic() - started
        assert fake.unsubscribed.is_set(), runner.log()
        assert took < 5, f"the runner took {took:.1f} s to stop after its broker went away:\n{runner.log()}"
        assert runner.log().rstrip().endswith("stopped"), runner.log()
    finally:
        runner.kill()
        fake.close()


# ---- the lesson's handler, and the same file on AWS Lambda ---------------------------------------
def test_the_lesson_handler_turns_red_on_above_25_degrees(pi, start_runner):
    start_runner(LESSON_HANDLER)
    pi.reading("temperature", 25, seq=1)
    pi.reading("light", 0.9, seq=2, unit=None)
    pi.event("button", "pressed", seq=3)
    pi.reading("temperature", 25.5, seq=4)
    assert [(t, c["action"]) for t, c in (pi.command(), pi.command())] == [
        ("berrykit/classroom-pi/commands/red", "off"), ("berrykit/classroom-pi/commands/red", "on")]
    pi.no_more_commands()


FAKE_BOTO3 = '''
"""Stands in for boto3 on Lambda: records the client it makes and what it publishes."""
import json
CALLS = []

class _IotData:
    def publish(self, **kwargs):
        kwargs["payload"] = json.loads(kwargs["payload"])
        CALLS.append(("publish", kwargs))

def client(service, **kwargs):
    CALLS.append(("client", service, kwargs))
    return _IotData()
'''

ON_LAMBDA = '''
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]   # the task root (the unzipped zip), then the fake boto3
import berrykit, boto3
from berrykit.functions import lambda_handler

class Context:   # what a Lambda context has; no "timeout"
    function_name = "berrykit-handler"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    def get_remaining_time_in_millis(self):
        return 2999

event = json.loads(sys.argv[3])
returned = lambda_handler(event, Context())
print(json.dumps({"berrykit": berrykit.__file__, "calls": boto3.CALLS, "returned": returned}))
'''


def test_the_lambda_zip_runs_the_same_handler_and_publishes_its_command_through_boto3(tmp_path):
    """As far as can be checked here: AWS itself is not reachable from the tests, so boto3 is a
    stand-in that records the calls berrykit.functions makes."""
    out = tmp_path / "function.zip"
    result = run_once([str(LESSON_HANDLER), "--lambda-zip", str(out)])
    assert result.returncode == 0, result.stderr
    assert "berrykit.functions.lambda_handler" in result.stdout and "BERRYKIT_HANDLER=handler.handler" in result.stdout
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["berrykit/__init__.py", "berrykit/functions.py", "handler.py"]
        z.extractall(tmp_path / "task")
    (tmp_path / "fake" / "boto3").mkdir(parents=True)
    (tmp_path / "fake" / "boto3" / "__init__.py").write_text(FAKE_BOTO3)
    event = {"device": "classroom-pi", "sensor": "temperature", "value": 26, "unit": "°C",
             "ts": "2026-11-22T10:15:30.123Z", "seq": 9, "topic": "berrykit/classroom-pi/readings/temperature"}
    env = {"BERRYKIT_HANDLER": "handler.handler", "BERRYKIT_IOT_ENDPOINT": "abc123-ats.iot.eu-west-1.amazonaws.com"}
    # -I: no PYTHONPATH, so the kit's package from the build is not there, as on Lambda
    result = run_once([], env=env, command=[PYTHON, "-I", "-c", ON_LAMBDA, str(tmp_path / "task"),
                                            str(tmp_path / "fake"), json.dumps(event)])
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert Path(got["berrykit"]).parent == tmp_path / "task" / "berrykit"
    assert got["calls"][0] == ["client", "iot-data", {"endpoint_url": "https://abc123-ats.iot.eu-west-1.amazonaws.com"}]
    assert got["calls"][1][0] == "publish"
    published = got["calls"][1][1]
    assert (published["topic"], published["qos"], published["payload"]["action"]) == (
        "berrykit/classroom-pi/commands/red", 1, "on")
    assert published["payload"] == {"action": "on", "id": ANY_UUID4}
    assert len(got["calls"]) == 2
    assert got["returned"] == {"sent": [{"topic": "berrykit/classroom-pi/commands/red", "payload": published["payload"]}]}
    assert "temperature on classroom-pi = 26 °C → handler returned: turn on red" in result.stderr


def test_send_command_outside_the_runner_and_lambda_says_where_it_works(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)   # import boto3 fails
    monkeypatch.setattr(functions, "_local_publish", None)
    monkeypatch.setattr(functions, "_iot_data", None)
    with pytest.raises(RuntimeError, match=r"berrykit function runner .* or on AWS Lambda"):
        functions.send_command("classroom-pi", "red", "on")
    with pytest.raises(ValueError, match="'action' must be one of on, off, toggle, set, blink, got 'shine'"):
        functions.send_command("classroom-pi", "red", "shine")


def test_the_docs_give_the_rule_whose_event_the_runner_imitates():
    docs = (ROOT / "docs" / "cloud-functions.md").read_text()
    assert functions.RULE_SQL in docs
    assert "berrykit.functions.lambda_handler" in docs and "python3.11" in docs
    assert "cannot be tested in our CI" in docs
