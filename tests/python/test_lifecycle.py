"""Objects, threads and the board's life: closing, garbage collection, reopening."""
import gc
import threading
import weakref

import berrykit
from berrykit import LED, Button, sim


def test_a_dropped_led_frees_its_pin():
    led = LED("red")
    ref = weakref.ref(led)
    del led
    gc.collect()
    assert ref() is None
    LED("red")  # the pin is free again


def test_a_button_with_a_callback_is_collected_when_dropped():
    button = Button("button")
    button.when_pressed = lambda: None
    ref = weakref.ref(button)
    del button
    gc.collect()
    assert ref() is None
    Button("button")


def test_closing_the_board_closes_every_part_and_stops_the_callback_thread():
    sim.use_real_clock()
    red = LED("red")
    assert any(t.name == "berrykit-callbacks" for t in threading.enumerate())
    berrykit.close_board()
    assert red.closed
    assert not any(t.name == "berrykit-callbacks" for t in threading.enumerate())


def test_parts_lists_the_classroom_kit():
    names = [p["name"] for p in sim.parts()]
    assert names == ["red", "amber", "green", "rgb", "buzzer", "button", "button2", "motion",
                     "temperature", "climate", "light", "distance"]
