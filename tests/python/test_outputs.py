"""LEDs, PWM LEDs, RGB LEDs, buzzers and traffic lights, checked from the simulated board's history."""
import pytest

from berrykit import LED, PWMLED, RGBLED, Buzzer, TrafficLights, sim


def test_led_on_off_toggle_are_seen_on_its_line():
    red = LED("red")
    assert not red.is_lit and red.value == 0
    red.on()
    assert red.is_lit and red.value == 1
    sim.advance(0.5)
    red.off()
    sim.advance(0.5)
    red.toggle()
    assert sim.history("red") == [(0.0, 0.0), (0.0, 1.0), (0.5, 0.0), (1.0, 1.0)]


def test_led_by_gpio_number_is_the_same_line_as_its_kit_name():
    led = LED(17)  # the red LED is on GPIO17 in the classroom kit
    led.on()
    assert sim.history("red")[-1] == (0.0, 1.0)
    assert led.name == "GPIO17"


def test_blink_pattern_from_history():
    red = LED("red")
    red.blink(on_time=1, off_time=0.5, n=3)
    sim.advance(10)
    assert sim.history("red") == [
        (0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.5, 1.0), (2.5, 0.0), (3.0, 1.0), (4.0, 0.0)]
    assert not red.is_lit


def test_blink_forever_keeps_time_and_stops_on_off():
    red = LED("red")
    red.blink(0.25, 0.25)
    sim.advance(99.9)
    history = sim.history("red")
    assert len(history) == 1 + 400  # the initial off, then a change every quarter second
    assert history[-1] == (99.75, 0.0)
    red.off()
    sim.advance(5)
    assert len(sim.history("red")) == 401


def test_blink_in_foreground_waits_until_done():
    import threading
    red = LED("red")
    done = threading.Event()

    def blink():
        red.blink(1, 1, n=2, background=False)
        done.set()

    t = threading.Thread(target=blink)
    t.start()
    while not red._core.animating:  # wait until the blink has started
        pass
    assert not done.wait(0.1)
    sim.advance(3.9)
    assert not done.wait(0.1)
    sim.advance(0.1)
    assert done.wait(5)
    t.join()


@pytest.mark.in_process_only("GPIO5 is one line of the RGB LED; berrykitd shares whole parts, and a bare line of a part is issue 15's line requests")
def test_active_low_led_drives_its_line_low_when_on():
    led = LED(5, active_high=False)
    led.on()
    assert sim.history(5)[-1][1] == 0.0
    led.off()
    assert sim.history(5)[-1][1] == 1.0


def test_pwm_led_brightness_shows_as_duty():
    red = PWMLED("red")
    red.value = 0.25
    sim.advance(1)
    red.value = 1
    assert sim.history("red")[-2:] == [(0.0, 0.25), (1.0, 1.0)]
    assert red.is_lit


def test_pwm_led_pulse_fades_at_25_frames_a_second():
    red = PWMLED("red")
    red.pulse(fade_in_time=1, fade_out_time=1, n=1)
    sim.advance(3)
    values = [v for t, v in sim.history("red")]
    times = [t for t, v in sim.history("red")]
    assert max(values) == pytest.approx(1.0)
    assert values[-1] == 0.0
    # fading in: steps of 1/25 s with rising brightness
    rising = [(t, v) for t, v in sim.history("red") if 0 < t < 1]
    assert len(rising) == 24
    assert all(b[1] > a[1] for a, b in zip(rising, rising[1:]))
    assert times[-1] == pytest.approx(2.0)


def test_rgb_led_colour_on_three_lines():
    rgb = RGBLED("rgb")
    rgb.color = (1, 0.5, 0)
    assert rgb.color == (1, 0.5, 0)
    assert sim.history("rgb", "red")[-1][1] == 1.0
    assert sim.history("rgb", "green")[-1][1] == 0.5
    assert sim.history("rgb", "blue")[-1][1] == 0.0
    rgb.blue = 1
    assert rgb.color == (1, 0.5, 1)


def test_rgb_led_by_three_gpio_numbers():
    rgb = RGBLED(5, 6, 13)
    rgb.on()
    assert [sim.history("rgb", c)[-1][1] for c in ("red", "green", "blue")] == [1.0, 1.0, 1.0]


def test_buzzer_beeps():
    buzzer = Buzzer("buzzer")
    buzzer.beep(0.1, 0.9, n=2)
    sim.advance(3)
    assert sim.history("buzzer") == [(0.0, 0.0), (0.0, 1.0), (0.1, 0.0), (1.0, 1.0), (1.1, 0.0)]


def test_traffic_lights_sequence():
    lights = TrafficLights()
    lights.green.on()
    assert lights.value == (0, 0, 1)
    lights.value = (1, 1, 0)
    assert [sim.history(p)[-1][1] for p in ("red", "amber", "green")] == [1.0, 1.0, 0.0]
    lights.close()
    assert lights.closed


def test_any_led_part_can_be_a_pwm_led():
    for name in ("red", "amber", "green"):
        with PWMLED(name) as led:
            led.value = 0.5
            assert sim.history(name)[-1][1] == 0.5


def test_context_manager_closes_and_frees_the_pin():
    with LED("red") as red:
        red.on()
    assert red.closed
    LED("red").on()  # the pin is free again
