"""The classroom warms up, and a cloud function turns the red LED on.

The simulated thermometer goes from 22 °C up to 28 °C and back down. berrykitd sends each
reading to the cloud (the MQTT broker); the function in handler.py gets it and, above 25 °C,
sends back "turn red on". This script only changes the temperature and watches the LED: the
decision is made in the cloud. scripts/demo.sh starts everything it needs.

    python3 lessons/functions/warm_room.py [seconds per step]
"""
import sys
import time

from berrykit import TemperatureSensor, sim

step = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0


def red_is_on():
    red = next(part for part in sim.parts() if part["name"] == "red")
    return red["state"]["value"] > 0


thermometer = TemperatureSensor("temperature")
print("The classroom warms up. The cloud function turns red on above 25 °C.")
turned_on = turned_off = None
for degrees in (22, 23, 24, 25, 26, 27, 28, 27, 26, 25, 24):
    sim.set_sensor("temperature", degrees)
    time.sleep(step)   # the next reading goes to the cloud, and the function answers
    lit = red_is_on()
    if lit and turned_on is None:
        turned_on = degrees
    if not lit and turned_on is not None and turned_off is None:
        turned_off = degrees
    print(f"  {thermometer.temperature:4.1f} °C in the classroom: the red LED is {'ON' if lit else 'off'}",
          flush=True)
if turned_on is None:
    print("The red LED never came on: is the function runner running? (scripts/demo.sh starts it)")
    sys.exit(1)
print(f"The cloud function turned red on at {turned_on} °C"
      + (f" and off again at {turned_off} °C." if turned_off is not None else "."))
