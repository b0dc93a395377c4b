"""Sensor readings reach subscribers as events, at the config's sampling period."""
import time

import pytest

from conftest import Client, Daemon


@pytest.fixture
def sampling_daemon(tmp_path):
    d = Daemon(tmp_path, config={"sensors": {"temperature": {"period": 0.2}, "light": {"period": 0.2},
                                             "climate": {"enabled": False}}})
    yield d
    d.stop()


def readings(client, part, count, timeout=10):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} readings of {part} came"
        message = client.line()
        assert message is not None
        if message.get("event") == "reading" and message["part"] == part:
            got.append(message)
    return got


def test_readings_come_at_the_period_and_follow_the_sensor(sampling_daemon):
    c = Client(sampling_daemon.socket)
    assert c.request("subscribe", parts=["temperature", "light"])["ok"]
    first = readings(c, "temperature", 6)
    assert all(r["value"] == 21.5 and r["unit"] == "°C" for r in first)
    gaps = sorted(b["time"] - a["time"] for a, b in zip(first, first[1:]))
    # Every 0.2 s: never early; on a busy machine a reading may come late, but not most of them.
    assert gaps[0] > 0.15, gaps
    assert 0.15 < gaps[len(gaps) // 2] < 0.4, gaps
    teacher = Client(sampling_daemon.socket)
    teacher.request("sim_set_sensor", part="temperature", value=30)
    deadline = time.monotonic() + 5
    while readings(c, "temperature", 1)[0]["value"] != 30:
        assert time.monotonic() < deadline
    light = readings(c, "light", 2)[-1]
    # The simulated room's default light, measured by timing a capacitor on the real clock: a busy
    # machine makes the charge time (and so the reading) a little off.
    assert light["value"] == pytest.approx(0.5, abs=0.05)
    teacher.close()
    c.close()


def test_a_failing_sensor_sends_an_error_reading_and_keeps_going(sampling_daemon):
    c = Client(sampling_daemon.socket)
    c.request("subscribe", parts=["temperature"])
    assert all("error" not in r for r in readings(c, "temperature", 2))
    teacher = Client(sampling_daemon.socket)
    assert teacher.request("sim_set_sensor_fault", part="temperature", faulty=True)["ok"]
    deadline = time.monotonic() + 5
    while "error" not in (reading := readings(c, "temperature", 1)[0]):
        assert time.monotonic() < deadline
    assert "'temperature'" in reading["error"] and "value" not in reading
    teacher.request("sim_set_sensor_fault", part="temperature", faulty=False)
    deadline = time.monotonic() + 5
    while readings(c, "temperature", 1)[0].get("value") != 21.5:  # sampling went on
        assert time.monotonic() < deadline
    teacher.close()
    c.close()


def test_disabled_sensors_are_not_sampled(sampling_daemon):
    c = Client(sampling_daemon.socket)
    c.request("subscribe", parts=["climate", "temperature"])
    got = readings(c, "temperature", 4)  # about 0.8 s: a climate reading would have come too
    assert got
    assert all(m["part"] != "climate" for m in c.events)
    c.close()
