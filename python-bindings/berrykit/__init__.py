"""berrykit: LEDs, buttons and sensors on a Raspberry Pi, or on a simulated board.

    from berrykit import LED, Button, pause
    red = LED("red")
    button = Button("button")
    button.when_pressed = red.toggle
    pause()

Parts are named as in the kit (see ``berrykit.sim.parts()``) or by GPIO number (``LED(17)``).
On a computer with no GPIO pins, scripts run on the simulated board; ``berrykit.sim`` drives it.
"""
from .devices import (
    LED, PWMLED, RGBLED, Buzzer, Button, MotionSensor, LightSensor, DistanceSensor,
    TemperatureSensor, HumidityTemperatureSensor, TrafficLights, pause,
)
from .exc import (
    BerrykitError, PartNotFound, PartInUse, BadValue, WrongType, DeviceClosed, SensorError,
    BoardError, GPIOError, Unsupported, FallbackWarning,
)
from ._kit import use_board, close_board
from . import cloud, sim

__version__ = "0.1.0"

__all__ = [
    "LED", "PWMLED", "RGBLED", "Buzzer", "Button", "MotionSensor", "LightSensor", "DistanceSensor",
    "TemperatureSensor", "HumidityTemperatureSensor", "TrafficLights", "pause",
    "BerrykitError", "PartNotFound", "PartInUse", "BadValue", "WrongType", "DeviceClosed", "SensorError",
    "BoardError", "GPIOError", "Unsupported", "FallbackWarning", "use_board", "close_board", "cloud", "sim",
]
