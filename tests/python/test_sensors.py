"""Light, distance, temperature and climate sensors on the simulated board."""
import pytest

import berrykit
from berrykit import DistanceSensor, HumidityTemperatureSensor, LightSensor, TemperatureSensor, sim


def test_light_sensor_follows_the_light():
    light = LightSensor("light")
    sim.set_sensor("light", 0.8)
    sim.advance(1)
    assert light.value == pytest.approx(0.8, abs=0.01)
    assert light.light_detected
    sim.set_sensor("light", 0.02)
    sim.advance(1)
    assert light.value == pytest.approx(0.02, abs=0.01)
    assert not light.light_detected


def test_light_sensor_events():
    light = LightSensor("light")
    sim.set_sensor("light", 0.9)
    sim.advance(1)
    seen = []
    light.when_dark = lambda: seen.append("dark")
    light.when_light = lambda: seen.append("light")
    sim.set_sensor("light", 0.0)
    sim.advance(1)
    sim.set_sensor("light", 0.9)
    sim.advance(1)
    assert seen == ["dark", "light"]


def test_light_sensor_before_any_reading_on_a_stopped_clock_says_what_to_do():
    light = LightSensor("light")
    with pytest.raises(berrykit.SensorError) as e:
        light.value
    assert "advance" in str(e.value)


def test_distance_sensor_measures_the_echo():
    sensor = DistanceSensor("distance")
    sim.set_sensor("distance", 0.25)
    sim.advance(1)
    assert sensor.distance == pytest.approx(0.25, abs=0.001)
    assert sensor.in_range  # closer than the 0.3 m threshold
    sim.set_sensor("distance", 3.0)
    sim.advance(1)
    assert sensor.distance == 1.0  # beyond max_distance reads as max_distance
    assert sensor.value == 1.0
    assert not sensor.in_range


def test_distance_sensor_events():
    sensor = DistanceSensor("distance", threshold_distance=0.5)
    sim.set_sensor("distance", 0.9)
    sim.advance(1)
    seen = []
    sensor.when_in_range = lambda: seen.append("in")
    sensor.when_out_of_range = lambda: seen.append("out")
    sim.set_sensor("distance", 0.1)
    sim.advance(1)
    sim.set_sensor("distance", 0.9)
    sim.advance(1)
    assert seen == ["in", "out"]


def test_distance_sensor_by_pins():
    sensor = DistanceSensor(echo=24, trigger=23)
    sim.set_sensor("distance", 0.4)
    sim.advance(1)
    assert sensor.distance == pytest.approx(0.4, abs=0.001)


def test_temperature_sensor():
    sensor = TemperatureSensor("temperature")
    assert sensor.temperature == pytest.approx(21.5)
    sim.set_sensor("temperature", -3.25)
    assert sensor.temperature == pytest.approx(-3.25)


def test_temperature_follows_a_curve():
    sensor = TemperatureSensor()
    sim.set_sensor("temperature", curve=[(0, 20), (60, 26)])
    assert sensor.temperature == pytest.approx(20)
    sim.advance(30)
    assert sensor.temperature == pytest.approx(23)
    sim.advance(100)
    assert sensor.temperature == pytest.approx(26)


def test_climate_sensor():
    climate = HumidityTemperatureSensor("climate")
    sim.set_sensor("climate", temperature=30, humidity=70)
    assert climate.read() == pytest.approx((30, 70))
    assert climate.humidity == pytest.approx(70)
    with pytest.raises(ValueError) as e:
        sim.set_sensor("climate", 25)
    assert "say which one" in str(e.value)


def test_sensor_values_are_checked():
    with pytest.raises(ValueError):
        sim.set_sensor("light", 2)
    with pytest.raises(ValueError):
        sim.set_sensor("climate", humidity=150)
