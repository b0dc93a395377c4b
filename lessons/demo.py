"""The berrykit demo: a classroom lesson on the simulated board, drawn in the terminal.

With BERRYKIT_SOCKET set (scripts/demo.sh starts berrykitd for it), it runs through the daemon,
as a kid's script does; otherwise it runs the simulated board in this process.

The traffic lights run their sequence, a (simulated) kid presses the button to ask to cross,
the buzzer beeps and the RGB LED fades through colours. Runs for 20 seconds, or Ctrl+C.

    python3 lessons/demo.py [seconds]
"""
import os
import sys
import threading
import time

if "BERRYKIT_SOCKET" not in os.environ:
    os.environ.setdefault("BERRYKIT_BOARD", "sim")

from berrykit import RGBLED, Button, Buzzer, TrafficLights, TemperatureSensor, sim  # noqa: E402
from berrykit.terminal import BoardView  # noqa: E402

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0

lights = TrafficLights("red", "amber", "green")
button = Button("button")
buzzer = Buzzer("buzzer")
rgb = RGBLED("rgb")
crossing = threading.Event()


def ask_to_cross():
    if not sys.stdout.isatty():  # in a terminal the view shows the button pressed instead
        print("  [button] someone wants to cross!", flush=True)
    crossing.set()


button.when_pressed = ask_to_cross
rgb.pulse(fade_in_time=1, fade_out_time=1, on_color=(0, 0.4, 1))

view = BoardView().start()
print(f"berrykit demo on the simulated board ({seconds:g} s, Ctrl+C to stop). "
      f"It is {TemperatureSensor().temperature:.1f} °C in the classroom.")

# A kid presses the button now and then.
presser = threading.Timer(3.0, lambda: (sim.press("button"), time.sleep(0.2), sim.release("button")))
presser.daemon = True
presser.start()

end = time.monotonic() + seconds
changes = 0
try:
    while time.monotonic() < end:
        lights.value = (0, 0, 1)           # green: cars go
        changes += 1
        crossing.wait(timeout=min(4, max(0, end - time.monotonic())))
        for value, pause in (((0, 1, 0), 1), ((1, 0, 0), 2), ((1, 1, 0), 1)):  # amber, red, red+amber
            if time.monotonic() >= end:
                break
            lights.value = value
            changes += 1
            if value == (1, 0, 0) and crossing.is_set():   # red: people cross
                buzzer.beep(0.1, 0.4, n=4)
                crossing.clear()
            time.sleep(min(pause, max(0, end - time.monotonic())))
except KeyboardInterrupt:
    pass
finally:
    view.stop()
    print(f"done: the traffic lights changed {changes} times.")
