"""The cloud bridge end to end: the real berrykitd on the simulated board, a real mosquitto on a
free loopback port, the function runner, and a subscriber that plays the cloud.

The subscriber that counts arrivals has a fixed client id, clean_session=False and QoS 1, and the
broker is durable (tests/integration/broker.py): so a missing seq is berrykitd's loss, not the
broker's.
"""
import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from broker import Broker, Certificates, wait_until
from conftest import Client, Daemon

PYTHON = "/usr/bin/python3"
DEVICE = "pi-test"


class Cloud:
    """An MQTT client that keeps every message under berrykit/<DEVICE>/ (a durable session)."""

    def __init__(self, broker, client_id=None):
        self.messages = queue.Queue()
        self.all = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(client_id=client_id or f"cloud-{uuid.uuid4().hex[:8]}", clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.connected.wait(10), "the test's subscriber could not connect"

    def _on_connect(self, client, userdata, flags, rc):
        client.subscribe(f"berrykit/{DEVICE}/#", qos=1)
        self.connected.set()

    def _on_message(self, client, userdata, message):
        try:
            payload = json.loads(message.payload)
        except ValueError:
            payload = message.payload.decode(errors="replace")
        with self.lock:
            self.all.append((message.topic, payload))
        self.messages.put((message.topic, payload))

    def seqs(self, kinds=("readings", "events")):
        """The seqs that arrived. One counter numbers a device's readings and its events (a
        button's press, a distance sensor's out_of_range), so a gap check counts both."""
        with self.lock:
            return {p["seq"] for t, p in self.all
                    if any(f"/{kind}/" in t for kind in kinds) and isinstance(p, dict) and "seq" in p}

    def wait_for(self, condition, timeout, what):
        wait_until(lambda: any(condition(t, p) for t, p in list(self.all)), timeout, what)
        return next((t, p) for t, p in list(self.all) if condition(t, p))

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def command(self, part, command, timeout=10):
        """Sends a command (with an "id") until its result comes back: berrykitd subscribes to
        commands/<part> just after it connects, and a command sent before that reaches no one."""
        deadline = time.monotonic() + timeout
        while True:
            self.publish(f"berrykit/{DEVICE}/commands/{part}", json.dumps(command))
            try:
                return self.wait_for(lambda t, p: t.endswith(f"/commands/{part}/result") and isinstance(p, dict)
                                     and p.get("id") == command["id"], 0.5, f"the result of {command}")[1]
            except AssertionError:
                assert time.monotonic() < deadline, f"no result for {command} in {timeout} s"

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def start_daemon(tmp_path, broker_url, mqtt_extra=None, **config):
    settings = {"device_id": DEVICE,
                "mqtt": {"url": broker_url, "reconnect": {"min": 0.2, "max": 1}, **(mqtt_extra or {})},
                "outbox": {"file": str(tmp_path / "outbox.sqlite")}}
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key].update(value)
        else:
            settings[key] = value
    return Daemon(tmp_path, config=settings)


def cloud_status(daemon):
    c = Client(daemon.socket)
    try:
        return c.request("cloud_status")
    finally:
        c.close()


def wait_connected(daemon, timeout=15):
    wait_until(lambda: cloud_status(daemon).get("mqtt", {}).get("connected"), timeout,
               f"berrykitd to connect to the broker: {cloud_status(daemon)}")


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path, durable=True)
    yield b
    b.stop()


@pytest.fixture
def cloud(broker):
    c = Cloud(broker, client_id="the-cloud")
    yield c
    c.close()


def test_a_reading_reaches_a_function_whose_command_turns_the_led_on(tmp_path, broker, cloud):
    handler = tmp_path / "handler.py"
    handler.write_text("def handler(event, context):\n"
                       "    if event.get('sensor') == 'temperature' and event['value'] > 25:\n"
                       "        return {'part': 'red', 'action': 'on'}\n")
    daemon = start_daemon(tmp_path, broker.url, sensors={"temperature": {"period": 0.2}},
                          parts={"red": {"remote": True}})
    with open(tmp_path / "runner.log", "w") as log:
        runner = subprocess.Popen([PYTHON, "-m", "berrykit.functions", str(handler), "--broker", broker.url],
                                  stdout=log, stderr=log)
    try:
        wait_connected(daemon)
        # The status is retained "online".
        topic, status = cloud.wait_for(lambda t, p: t.endswith("/status"), 10, "the retained status")
        assert status["status"] == "online" and status["device"] == DEVICE
        # A reading has the documented shape.
        _, reading = cloud.wait_for(lambda t, p: t == f"berrykit/{DEVICE}/readings/temperature", 10, "a reading")
        assert reading["device"] == DEVICE and reading["sensor"] == "temperature"
        assert reading["value"] == 21.5 and reading["unit"] == "°C"
        assert reading["ts"].endswith("Z") and len(reading["ts"]) == 24 and reading["seq"] >= 1
        teacher = Client(daemon.socket)
        assert teacher.request("get", part="red")["state"]["value"] == 0
        teacher.request("sim_set_sensor", part="temperature", value=30)
        wait_until(lambda: teacher.request("get", part="red")["state"]["value"] == 1, 15,
                   "the function's command to turn red on: " + (tmp_path / "runner.log").read_text())
        _, result = cloud.wait_for(lambda t, p: t == f"berrykit/{DEVICE}/commands/red/result", 10, "the result")
        assert result["ok"] is True and result["state"]["value"] == 1
        teacher.close()
    finally:
        runner.terminate()
        runner.wait(10)
        assert daemon.stop() == 0
    # A clean stop says "offline", retained.
    cloud.wait_for(lambda t, p: t.endswith("/status") and p.get("status") == "offline", 10, "offline status")


def test_a_command_for_a_part_that_is_not_remote_changes_nothing_and_says_so(tmp_path, broker, cloud):
    daemon = start_daemon(tmp_path, broker.url, parts={"red": {"remote": True}})
    try:
        wait_connected(daemon)
        teacher = Client(daemon.socket)
        bad = cloud.command("red", {"action": "explode", "id": "bad"})
        assert bad["ok"] is False and "action" in bad["error"]["message"]
        assert teacher.request("get", part="red")["state"]["value"] == 0
        # buzzer is not remote: berrykitd does not even subscribe to its commands.
        cloud.publish(f"berrykit/{DEVICE}/commands/buzzer", json.dumps({"action": "on", "id": "buzz"}))
        cloud.command("red", {"action": "on", "id": "after"})
        assert teacher.request("get", part="buzzer")["state"]["value"] == 0
        assert not any(t.endswith("/commands/buzzer/result") for t, p in cloud.all)
        assert teacher.request("get", part="red")["state"]["value"] == 1
        teacher.close()
    finally:
        daemon.stop()


def test_tls_with_the_wrong_ca_fails_with_a_clear_error_and_the_right_one_connects(tmp_path):
    pki = Certificates(tmp_path / "pki")
    broker = Broker(tmp_path, tls=pki)
    try:
        (tmp_path / "wrong").mkdir()
        wrong = start_daemon(tmp_path / "wrong", broker.tls_url, mqtt_extra={"tls": {"ca_file": str(pki.wrong_ca)}})
        try:
            wait_until(lambda: cloud_status(wrong)["mqtt"].get("last_error"), 15, "an error about the certificate")
            status = cloud_status(wrong)
            assert not status["mqtt"]["connected"]
            assert "certificate" in status["mqtt"]["last_error"] and "ca_file" in status["mqtt"]["last_error"]
        finally:
            wrong.stop()
        assert "certificate" in wrong.log
        (tmp_path / "right").mkdir()
        right = start_daemon(tmp_path / "right", broker.tls_url, mqtt_extra={"tls": {"ca_file": str(pki.ca)}})
        try:
            wait_connected(right)
        finally:
            right.stop()
    finally:
        broker.stop()


def send_values(daemon, count, every, stop_event=None):
    """cloud_send `count` values, one each `every` s; returns the seqs berrykitd accepted."""
    kid = Client(daemon.socket)
    accepted = []
    try:
        for i in range(count):
            if stop_event is not None and stop_event.is_set():
                break
            reply = kid.request("cloud_send", name="count", value=i)
            assert reply["ok"], reply
            accepted.append(reply["seq"])
            time.sleep(every)
    finally:
        kid.close()
    return accepted


def test_a_broker_down_for_30_seconds_loses_nothing(tmp_path, broker, cloud):
    daemon = start_daemon(tmp_path, broker.url, sensors={"temperature": {"period": 0.1}})
    try:
        wait_connected(daemon)
        accepted = []
        sender = threading.Thread(target=lambda: accepted.extend(send_values(daemon, 450, 0.1)))
        sender.start()
        time.sleep(5)
        broker.stop()                       # 30 s without a broker, while readings and values go on
        time.sleep(30)
        queued = cloud_status(daemon)["outbox"]["queued"]
        broker.start()
        sender.join()
        assert queued > 250, queued         # they waited on disk
        wait_until(lambda: set(accepted) <= cloud.seqs(), 60, "every accepted value to arrive")
        # Everything berrykitd stored is delivered: its outbox empties, and no seq is missing.
        wait_until(lambda: cloud_status(daemon)["outbox"]["queued"] == 0, 30, "the outbox to empty")
        last = cloud_status(daemon)["outbox"]["next_seq"] - 1
        wait_until(lambda: max(cloud.seqs()) >= last, 10, f"seq {last}")
        got = cloud.seqs()
        gaps = set(range(1, last + 1)) - got
        print(f"accepted {len(accepted)} values; {len(got)} seqs arrived; queued during the outage {queued}; "
              f"gaps {len(gaps)}")
        assert gaps == set(), (sorted(gaps), cloud_status(daemon), broker.log_path.read_text()[-3000:])
        assert cloud_status(daemon)["mqtt"]["reconnects"] >= 1
    finally:
        daemon.stop()


def test_berrykitd_killed_mid_stream_loses_nothing_it_accepted(tmp_path, broker, cloud):
    daemon = start_daemon(tmp_path, broker.url, sensors={"temperature": {"period": 0.1}})
    wait_connected(daemon)
    broker.stop()                                  # so that plenty is still in the outbox
    accepted = send_values(daemon, 200, 0.005)
    daemon.stop(signal.SIGKILL)
    broker.start()
    again = start_daemon(tmp_path, broker.url)     # the same outbox file
    try:
        wait_until(lambda: set(accepted) <= cloud.seqs(), 60, "every value accepted before the kill")
        after = send_values(again, 1, 0)
        assert after[0] > max(accepted)            # seq goes on after a restart
        wait_until(lambda: set(after) <= cloud.seqs(), 30, "the value sent after the restart")
        got = cloud.seqs()
        assert set(range(min(got), max(got) + 1)) - got == set()
    finally:
        again.stop()


def test_the_size_cap_drops_the_oldest_and_says_how_many(tmp_path, broker, cloud):
    daemon = start_daemon(tmp_path, broker.url, outbox={"max_bytes": 65536})
    try:
        wait_connected(daemon)
        broker.stop()
        accepted = send_values(daemon, 1500, 0)     # about 200 bytes each: far more than 64 KiB
        status = cloud_status(daemon)["outbox"]
        assert status["dropped"] > 0 and status["queued_bytes"] <= 65536, status
        broker.start()
        wait_until(lambda: max(accepted) in cloud.seqs(), 60, "the newest value")
        got = cloud.seqs()
        missing = [seq for seq in accepted if seq not in got]
        print(f"{len(accepted)} values sent with the broker away; {status['dropped']} dropped by the cap; "
              f"{len(accepted) - len(missing)} arrived")
        assert missing, "nothing was dropped"
        assert missing == accepted[:len(missing)]   # only the oldest went: what was kept came in full
        assert len(missing) <= status["dropped"]
    finally:
        daemon.stop()


def test_a_kids_script_sends_its_own_value_with_cloud_send(tmp_path, broker, cloud):
    daemon = start_daemon(tmp_path, broker.url)
    try:
        wait_connected(daemon)
        script = tmp_path / "score.py"
        script.write_text("from berrykit import cloud\n"
                          "seq = cloud.send('score', 42, unit='points')\n"
                          "print(seq)\n")
        env = dict(os.environ, BERRYKIT_SOCKET=daemon.socket)
        env.pop("BERRYKIT_BOARD", None)
        out = subprocess.run([PYTHON, str(script)], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        seq = int(out.stdout)
        _, sent = cloud.wait_for(lambda t, p: t == f"berrykit/{DEVICE}/readings/score", 10, "the kid's value")
        assert sent["value"] == 42 and sent["unit"] == "points" and sent["seq"] == seq
        assert sent["sensor"] == "score" and sent["from"] == "score.py"
    finally:
        daemon.stop()


def test_a_damaged_outbox_is_moved_aside_and_berrykitd_carries_on(tmp_path, broker, cloud):
    (tmp_path / "outbox.sqlite").write_bytes(b"this is not a database, the SD card lost it" * 100)
    daemon = start_daemon(tmp_path, broker.url)
    try:
        wait_connected(daemon)
        seqs = send_values(daemon, 3, 0)
        wait_until(lambda: set(seqs) <= cloud.seqs(), 10, "values sent after the damaged outbox was replaced")
        aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("outbox.sqlite.corrupt-")]
        assert aside, list(tmp_path.iterdir())
    finally:
        daemon.stop()
    assert "moved" in daemon.log and "outbox.sqlite.corrupt-" in daemon.log, daemon.log
