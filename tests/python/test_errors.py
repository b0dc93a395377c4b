"""The error messages a kid meets: unknown part, part in use, bad values, wrong types, closed parts."""
import pytest

import berrykit
from berrykit import LED, PWMLED, RGBLED, Button, TemperatureSensor, sim


def test_unknown_part_suggests_the_closest_name_and_is_a_lookup_error():
    with pytest.raises(berrykit.PartNotFound) as e:
        LED("redd")
    assert isinstance(e.value, LookupError)
    message = str(e.value)
    assert "no part called 'redd'" in message
    assert "Did you mean 'red'?" in message
    assert "amber" in message  # lists the parts


def test_gpio_number_not_on_the_header():
    with pytest.raises(berrykit.PartNotFound) as e:
        LED(40)
    assert "no GPIO 40" in str(e.value) and "2 to 27" in str(e.value)


def test_part_in_use_names_the_part_that_holds_it():
    red = LED("red")  # noqa: F841 (kept open: a dropped part frees its pin)
    with pytest.raises(berrykit.PartInUse) as e:
        LED(17)
    message = str(e.value)
    assert "GPIO17 is already in use by the LED 'red'" in message
    assert "close" in message


def test_wrong_kind_of_part():
    with pytest.raises(berrykit.WrongType) as e:
        LED("button")
    assert isinstance(e.value, TypeError)
    assert "'button' is a button, not an LED" in str(e.value)
    assert 'Button("button")' in str(e.value)


def test_value_out_of_range_is_a_value_error():
    led = PWMLED("red")
    with pytest.raises(ValueError) as e:
        led.value = 2
    assert isinstance(e.value, berrykit.BadValue)
    assert "brightness of the LED 'red' must be between 0 and 1, got 2" in str(e.value)
    assert sim.history("red")[-1][1] == 0.0  # nothing changed


def test_led_value_half_says_to_use_pwmled():
    led = LED("red")
    with pytest.raises(ValueError) as e:
        led.value = 0.5
    assert "PWMLED('red')" in str(e.value)


def test_wrong_type_of_value_is_a_type_error():
    led = PWMLED("red")
    with pytest.raises(TypeError) as e:
        led.value = "bright"
    assert "must be a number between 0 and 1" in str(e.value)
    with pytest.raises(TypeError):
        LED("red" if False else 3.5)
    with pytest.raises(TypeError):
        LED("green").blink(on_time="long")
    with pytest.raises(TypeError):
        RGBLED("rgb").color = "purple"


def test_negative_time_is_a_value_error():
    with pytest.raises(ValueError) as e:
        LED("red").blink(on_time=-1)
    assert "on_time for the LED 'red' must be 0 seconds or more, got -1" in str(e.value)


def test_closed_part_used_again():
    red = LED("red")
    red.close()
    red.close()  # closing twice is fine
    with pytest.raises(berrykit.DeviceClosed) as e:
        red.on()
    assert isinstance(e.value, RuntimeError)
    assert "the LED 'red' was closed" in str(e.value)


def test_closed_button_used_again():
    b = Button("button")
    b.close()
    with pytest.raises(berrykit.DeviceClosed):
        b.is_pressed


def test_missing_sensor_names_the_part():
    sim.set_sensor_fault("temperature")
    with pytest.raises(berrykit.SensorError) as e:
        TemperatureSensor("temperature").temperature
    assert isinstance(e.value, OSError)
    assert "'temperature'" in str(e.value)


def test_bad_callback_is_a_type_error():
    b = Button("button")
    with pytest.raises(TypeError) as e:
        b.when_pressed = "red.on"
    assert "must be a function" in str(e.value)
    with pytest.raises(TypeError):
        b.when_pressed = lambda a, b, c: None


def test_every_error_is_a_berrykit_error():
    for cls in (berrykit.PartNotFound, berrykit.PartInUse, berrykit.BadValue, berrykit.WrongType,
                berrykit.DeviceClosed, berrykit.SensorError, berrykit.BoardError, berrykit.GPIOError,
                berrykit.Unsupported):
        assert issubclass(cls, berrykit.BerrykitError)


@pytest.mark.parametrize("name, value, wanted", [
    ("my score!", 1, "1 to 64 letters"),
    ("", 1, "1 to 64 letters"),
    ("score", [1, 2], "a number, True/False or a short text"),
    ("score", float("nan"), "a real number"),
    ("score", "x" * 2000, "too long"),
], ids=["spaces", "empty", "list", "nan", "long-text"])
def test_cloud_send_refuses_bad_names_and_values_as_value_errors(name, value, wanted):
    with pytest.raises(berrykit.BadValue) as e:
        berrykit.cloud.send(name, value)
    assert isinstance(e.value, ValueError)
    assert wanted in str(e.value)


@pytest.mark.in_process_only("it is the in-process board's message; through berrykitd, cloud_send works (tests/integration/test_11)")
def test_cloud_send_on_the_in_process_board_says_to_run_through_berrykitd():
    with pytest.raises(berrykit.Unsupported) as e:
        berrykit.cloud.send("score", 42)
    assert "berrykitd" in str(e.value) and "BERRYKIT_BOARD" in str(e.value)
