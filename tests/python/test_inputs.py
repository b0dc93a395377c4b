"""Buttons and motion sensors: callbacks, hold, debounce and waiting, on the simulated board."""
import threading

import pytest

from berrykit import LED, Button, MotionSensor, sim


def test_the_kids_first_script_works():
    red = LED("red")
    button = Button("button")
    button.when_pressed = red.toggle
    sim.press("button")
    assert red.is_lit
    sim.advance(0.3)
    sim.release("button")
    sim.advance(0.3)
    sim.press("button")
    assert not red.is_lit
    assert sim.history("red") == [(0.0, 0.0), (0.0, 1.0), (0.6, 0.0)]


def test_press_and_release_callbacks_get_the_button_when_they_take_one_argument():
    button = Button("button")
    seen = []
    button.when_pressed = lambda b: seen.append(("pressed", b))
    button.when_released = lambda: seen.append(("released", None))
    sim.press("button")
    assert button.is_pressed and button.value == 1
    sim.advance(0.1)
    sim.release("button")
    assert not button.is_pressed
    assert seen == [("pressed", button), ("released", None)]


def test_button_is_pulled_up_so_a_press_drives_its_line_low():
    button = Button("button")  # noqa: F841 (its pull-up holds the line high)
    assert sim.history("button")[-1][1] == 1.0
    sim.press("button")
    assert sim.history("button")[-1][1] == 0.0
    sim.advance(0.1)
    sim.release("button")
    assert sim.history("button")[-1][1] == 1.0


def test_when_held_after_hold_time_and_repeat():
    button = Button("button2", hold_time=0.5, hold_repeat=True)
    held = []
    button.when_held = lambda: held.append(1)
    sim.press("button2")
    sim.advance(0.4)
    assert held == [] and not button.is_held
    sim.advance(0.2)
    assert len(held) == 1 and button.is_held
    assert button.held_time == pytest.approx(0.1)
    for count in (2, 3, 4):  # again at 1.0, 1.5 and 2.0
        sim.advance(0.5)
        assert len(held) == count
    sim.release("button2")
    sim.advance(2)
    assert len(held) == 4 and not button.is_held


def test_sim_hold_presses_then_releases_on_the_clock():
    button = Button("button")
    events = []
    button.when_pressed = lambda: events.append("pressed")
    button.when_released = lambda: events.append("released")
    button.when_held = lambda: events.append("held")
    sim.hold("button", 1.5)
    assert events == ["pressed"]
    sim.advance(1.2)
    assert events == ["pressed", "held"] and button.is_pressed
    sim.advance(0.4)
    assert events == ["pressed", "held", "released"] and not button.is_pressed


def test_bouncy_button_gives_one_press():
    button = Button("button", bounce_time=0.05)
    presses = []
    button.when_pressed = lambda: presses.append(1)
    for _ in range(5):  # contacts bouncing for a few milliseconds
        sim.press("button")
        sim.advance(0.002)
        sim.release("button")
        sim.advance(0.002)
    sim.press("button")
    sim.advance(0.2)
    assert len(presses) == 1
    assert button.is_pressed


def test_without_bounce_time_every_edge_counts():
    button = Button("button", bounce_time=0)
    presses = []  # no time passes between the edges, and none is filtered
    button.when_pressed = lambda: presses.append(1)
    for _ in range(3):
        sim.press("button")
        sim.release("button")
    assert len(presses) == 3


def test_wait_for_press_returns_when_pressed_from_another_thread(real_clock_board):
    button = Button("button")
    timer = threading.Timer(0.05, sim.press, args=("button",))
    timer.start()
    assert button.wait_for_press(timeout=5)
    timer.join()


def test_wait_for_press_times_out(real_clock_board):
    button = Button("button")
    assert button.wait_for_press(timeout=0.05) is False


def test_wait_for_press_timeout_follows_the_manual_clock():
    button = Button("button")
    result = []
    t = threading.Thread(target=lambda: result.append(button.wait_for_press(timeout=1)))
    t.start()
    sim.advance(0.5)
    t.join(0.2)
    assert t.is_alive()  # at most half a second of board time has passed since it started waiting
    sim.advance(2)
    t.join(5)
    assert result == [False]


def test_callbacks_run_on_their_own_thread_in_order(real_clock_board):
    button = Button("button", bounce_time=0)
    threads, order = set(), []
    done = threading.Event()

    def pressed():
        threads.add(threading.current_thread().name)
        order.append("p")

    def released():
        order.append("r")
        if len(order) == 6:
            done.set()

    button.when_pressed = pressed
    button.when_released = released
    for _ in range(3):
        sim.press("button")
        sim.release("button")
    assert done.wait(5)
    assert order == ["p", "r"] * 3
    assert threads == {"berrykit-callbacks"}


def test_a_failing_callback_does_not_stop_the_others(capsys):
    button = Button("button")
    seen = []
    button.when_pressed = lambda: 1 / 0
    button.when_released = lambda: seen.append("released")
    sim.press("button")
    sim.advance(0.1)
    sim.release("button")
    assert seen == ["released"]
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_callback_none_removes_it():
    button = Button("button")
    seen = []
    button.when_pressed = lambda: seen.append(1)
    assert button.when_pressed is not None
    button.when_pressed = None
    sim.press("button")
    assert seen == []


def test_motion_sensor():
    pir = MotionSensor("motion")
    seen = []
    pir.when_motion = lambda: seen.append("motion")
    pir.when_no_motion = lambda: seen.append("still")
    assert not pir.motion_detected
    sim.trigger_motion("motion", 3)
    assert pir.motion_detected and seen == ["motion"]
    sim.advance(2.9)
    assert pir.motion_detected
    sim.advance(0.2)
    assert not pir.motion_detected
    assert seen == ["motion", "still"]


def test_pressing_a_led_is_an_error():
    with pytest.raises(TypeError):
        sim.press("red")


def test_a_second_wave_keeps_the_motion_sensor_going():
    pir = MotionSensor("motion")
    sim.trigger_motion("motion", 2)
    sim.advance(1)
    sim.trigger_motion("motion", 2)  # still moving: two more seconds from now
    sim.advance(1.5)
    assert pir.motion_detected  # the first wave's end (at 2 s) did not cut the second short
    sim.advance(0.6)
    assert not pir.motion_detected


def test_a_press_during_a_hold_is_not_cut_short_by_the_hold():
    button = Button("button")
    sim.hold("button", 0.5)
    sim.advance(0.2)
    sim.press("button")      # pressed again (held on): the hold's release is dropped
    sim.advance(1)
    assert button.is_pressed
    sim.release("button")
    sim.advance(0.1)
    assert not button.is_pressed


def test_a_press_from_the_board_after_a_delay():
    button = Button("button")
    presses = []
    button.when_pressed = lambda: presses.append(1)
    sim.hold("button", 0.3, after=2)
    sim.advance(1.9)
    assert presses == [] and not button.is_pressed
    sim.advance(0.2)
    assert presses == [1] and button.is_pressed
    sim.advance(0.3)
    assert not button.is_pressed


def test_time_values_in_messages_are_plain_numbers():
    with pytest.raises(ValueError) as e:
        Button("button", hold_time=-1)
    assert "got -1" in str(e.value) and "-1.000000" not in str(e.value)
