"""The parts of the kit, with the names and behaviour gpiozero uses.

Every part is opened by its name in the kit (``LED("red")``) or by its GPIO number
(``LED(17)``). Every part can be closed (``led.close()``) or used in a ``with`` block.
"""
import inspect
import signal

from . import _kit
from .exc import BadValue, SensorError, WrongType

__all__ = [
    "LED", "PWMLED", "RGBLED", "Buzzer", "Button", "MotionSensor", "LightSensor", "DistanceSensor",
    "TemperatureSensor", "HumidityTemperatureSensor", "TrafficLights", "pause",
]


def pause():
    """Waits forever, so the callbacks you set keep working. Press Ctrl+C to stop."""
    signal.pause()


def _part(pin, what):
    """Checks a part reference: a name from the kit ("red") or a GPIO number (17)."""
    if isinstance(pin, bool) or not isinstance(pin, (str, int)):
        raise WrongType(f"{what} needs the name of a part in the kit (like \"red\") or a GPIO number "
                        f"(like 17), got {pin!r}")
    return pin


def _number(value, name, unit):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WrongType(f"{name} must be a number of {unit}, got {value!r}")
    return float(value)


def _seconds(value, name):
    return _number(value, name, "seconds")


def _metres(value, name):
    return _number(value, name, "metres")


def _hertz(value, name):
    return _number(value, name, "hertz (times a second), like 100")


def _count(n):
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int):
        raise WrongType(f"n (how many times) must be a whole number or None (for ever), got {n!r}")
    return n


def _level(value, what):
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float)):
        raise WrongType(f"the {what} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _wrap_callback(device, fn, name):
    """Lets a callback take no argument or one (the part), as gpiozero's do."""
    if fn is None:
        return None
    if not callable(fn):
        raise WrongType(f"{name} must be a function (like red.on, without brackets) or None, got {fn!r}")
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: call them plainly
        return fn
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.default is p.empty and p.kind in positional]
    if not required:
        return fn
    if len(required) == 1:
        return lambda: fn(device)
    raise WrongType(f"{name} must be a function that takes no arguments, or one (the part), "
                    f"but {getattr(fn, '__name__', fn)} needs {len(required)}")


class Device:
    """Common to every part: closing, ``with`` blocks, and callbacks run on berrykit's thread."""

    _core = None
    _events = {}  # event kind -> attribute holding the callback

    def _attach(self, core_device):
        self._core = core_device
        self._callbacks = {}
        _kit.register(core_device.id, self)

    def close(self):
        """Lets go of the part, so another script or part can use its pins. Safe to call twice."""
        if self._core is not None:
            self._core.close()

    @property
    def closed(self):
        return self._core is None or self._core.closed

    @property
    def name(self):
        """The part's name in the kit ("red"), or its line ("GPIO17")."""
        return self._core.part

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if self._core is None:
            return f"<berrykit.{type(self).__name__}>"
        state = "closed" if self._core.closed else self._state()
        return f"<berrykit.{type(self).__name__} {self._core.part!r} {state}>"

    def _state(self):
        return ""

    def _set_callback(self, kind, fn, name):
        self._callbacks[kind] = _wrap_callback(self, fn, name)
        self._callback_sources = getattr(self, "_callback_sources", {})
        self._callback_sources[kind] = fn

    def _get_callback(self, kind):
        return getattr(self, "_callback_sources", {}).get(kind)

    def _dispatch(self, kind, when):
        callback = self._callbacks.get(kind)
        if callback is not None:
            self._event_time = when  # board-clock seconds of the edge, for measuring latency
            callback()


# ---- outputs ---------------------------------------------------------------------------------

class _OutputDevice(Device):
    def _blink_wait(self, background):
        if not background:
            self._core.wait_for_animation(None)


class LED(_OutputDevice):
    """A light that is on or off.

    Wiring: the LED's long leg to the GPIO pin through a 330 Ω resistor, the short leg to GND.

    Example::

        from berrykit import LED
        red = LED("red")
        red.blink()
    """

    def __init__(self, pin, *, active_high=None, initial_value=False):
        self._attach(_kit.kit().open_led(_part(pin, "LED"), active_high=active_high,
                                         initial_value=bool(initial_value)))

    def on(self):
        """Turns the LED on."""
        self._core.on()

    def off(self):
        """Turns the LED off."""
        self._core.off()

    def toggle(self):
        """On if it was off, off if it was on."""
        self._core.toggle()

    def blink(self, on_time=1, off_time=1, n=None, background=True):
        """Blinks: on for ``on_time`` seconds, off for ``off_time``, ``n`` times (None: for ever).

        With ``background=False`` it waits until the blinking is done.
        """
        self._core.blink(_seconds(on_time, "on_time"), _seconds(off_time, "off_time"), _count(n))
        self._blink_wait(background)

    @property
    def is_lit(self):
        """True while the LED is on."""
        return self._core.is_active

    is_active = is_lit

    @property
    def value(self):
        """1 when on, 0 when off. Set it to 1 or 0 (or True/False)."""
        return 1 if self._core.is_active else 0

    @value.setter
    def value(self, value):
        if isinstance(value, (bool, int)) and value in (0, 1):
            self._core.set_value(bool(value))
        elif isinstance(value, (int, float)):
            raise BadValue(f"{self._core.description} can only be on (1) or off (0), got {value}: "
                           f"to dim it, open it as PWMLED({self._core.part!r})")
        else:
            raise WrongType(f"{self._core.description} can only be set to 1 (on) or 0 (off), got {value!r}")

    def _state(self):
        return "on" if self._core.is_active else "off"


class Buzzer(LED):
    """A buzzer that beeps. Wiring: + leg to the GPIO pin, - leg to GND.

    Example::

        from berrykit import Buzzer
        bz = Buzzer("buzzer")
        bz.beep(0.2, 0.8, n=3)
    """

    def __init__(self, pin, *, active_high=None, initial_value=False):
        self._attach(_kit.kit().open_buzzer(_part(pin, "Buzzer"), active_high=active_high,
                                            initial_value=bool(initial_value)))

    def beep(self, on_time=1, off_time=1, n=None, background=True):
        """Beeps: on for ``on_time`` seconds, off for ``off_time``, ``n`` times (None: for ever)."""
        self.blink(on_time, off_time, n, background)


class PWMLED(_OutputDevice):
    """An LED whose brightness you set from 0 (off) to 1 (full). Any LED of the kit can be one.

    Example::

        from berrykit import PWMLED
        red = PWMLED("red")
        red.value = 0.3
        red.pulse()
    """

    def __init__(self, pin, *, active_high=None, initial_value=0, frequency=100):
        self._attach(_kit.kit().open_pwm_led(_part(pin, "PWMLED"), active_high=active_high,
                                             initial_value=_level(initial_value, "initial_value"),
                                             frequency=_hertz(frequency, "frequency")))

    def on(self):
        self._core.on()

    def off(self):
        self._core.off()

    def toggle(self):
        """Brightness becomes 1 - brightness."""
        self._core.toggle()

    @property
    def value(self):
        """Brightness from 0 (off) to 1 (full)."""
        return self._core.value

    @value.setter
    def value(self, value):
        self._core.value = _level(value, "brightness")

    brightness = value

    @property
    def is_lit(self):
        return self._core.is_active

    is_active = is_lit

    @property
    def frequency(self):
        return self._core.frequency

    @frequency.setter
    def frequency(self, hz):
        self._core.frequency = _hertz(hz, "frequency")

    def blink(self, on_time=1, off_time=1, fade_in_time=0, fade_out_time=0, n=None, background=True):
        """Blinks, fading in and out over ``fade_in_time`` and ``fade_out_time`` seconds."""
        self._core.blink(_seconds(on_time, "on_time"), _seconds(off_time, "off_time"),
                         _seconds(fade_in_time, "fade_in_time"), _seconds(fade_out_time, "fade_out_time"),
                         _count(n))
        self._blink_wait(background)

    def pulse(self, fade_in_time=1, fade_out_time=1, n=None, background=True):
        """Fades in and out, like breathing."""
        self._core.pulse(_seconds(fade_in_time, "fade_in_time"), _seconds(fade_out_time, "fade_out_time"),
                         _count(n))
        self._blink_wait(background)

    def _state(self):
        return f"value={self._core.value:g}"


def _color(value, name):
    try:
        r, g, b = value
    except (TypeError, ValueError):
        raise WrongType(f"{name} must be three numbers (red, green, blue) from 0 to 1, "
                        f"like (1, 0.5, 0), got {value!r}") from None
    return (_level(r, name), _level(g, name), _level(b, name))


class RGBLED(_OutputDevice):
    """An LED that can be any colour: ``color = (red, green, blue)``, each 0 to 1.

    Open it by its name in the kit, ``RGBLED("rgb")``, or by three GPIO numbers,
    ``RGBLED(red=5, green=6, blue=13)``. Wiring (common cathode): the long leg to GND, the
    others through 330 Ω resistors to the three pins.

    Example::

        from berrykit import RGBLED
        rgb = RGBLED("rgb")
        rgb.color = (1, 0, 1)   # purple
    """

    def __init__(self, red="rgb", green=None, blue=None, *, active_high=None, initial_value=(0, 0, 0), pwm=True):
        initial = _color(initial_value, "initial_value")
        k = _kit.kit()
        if green is None and blue is None:
            core = k.open_rgb_led(_part(red, "RGBLED"), active_high=active_high, initial_value=initial,
                                  pwm=bool(pwm))
        elif all(isinstance(p, int) and not isinstance(p, bool) for p in (red, green, blue)):
            core = k.open_rgb_led_pins(red, green, blue, active_high=active_high, initial_value=initial,
                                       pwm=bool(pwm))
        else:
            raise WrongType("RGBLED needs the name of an RGB LED in the kit (like RGBLED(\"rgb\")) or three "
                            f"GPIO numbers (like RGBLED(5, 6, 13)), got {red!r}, {green!r}, {blue!r}")
        self._attach(core)

    def on(self):
        """White: every colour full on."""
        self._core.on()

    def off(self):
        self._core.off()

    def toggle(self):
        self._core.toggle()

    @property
    def color(self):
        """The colour as (red, green, blue), each 0 to 1."""
        return tuple(self._core.color)

    @color.setter
    def color(self, value):
        self._core.color = _color(value, "colour")

    value = color
    colour = color

    def _channel(index):
        def get(self):
            return self._core.color[index]

        def set_(self, value):
            c = list(self._core.color)
            c[index] = _level(value, ("red", "green", "blue")[index])
            self._core.color = tuple(c)
        return property(get, set_)

    red = _channel(0)
    green = _channel(1)
    blue = _channel(2)
    del _channel

    @property
    def is_lit(self):
        return self._core.is_active

    is_active = is_lit

    def blink(self, on_time=1, off_time=1, fade_in_time=0, fade_out_time=0, on_color=(1, 1, 1),
              off_color=(0, 0, 0), n=None, background=True):
        self._core.blink(_seconds(on_time, "on_time"), _seconds(off_time, "off_time"),
                         _seconds(fade_in_time, "fade_in_time"), _seconds(fade_out_time, "fade_out_time"),
                         _color(on_color, "on_color"), _color(off_color, "off_color"), _count(n))
        self._blink_wait(background)

    def pulse(self, fade_in_time=1, fade_out_time=1, on_color=(1, 1, 1), off_color=(0, 0, 0), n=None,
              background=True):
        self._core.pulse(_seconds(fade_in_time, "fade_in_time"), _seconds(fade_out_time, "fade_out_time"),
                         _color(on_color, "on_color"), _color(off_color, "off_color"), _count(n))
        self._blink_wait(background)

    def _state(self):
        return "color=(%g, %g, %g)" % tuple(self._core.color)


# ---- inputs ----------------------------------------------------------------------------------

def _callback_property(kind, name, doc):
    def get(self):
        return self._get_callback(kind)

    def set_(self, fn):
        self._set_callback(kind, fn, name)
    return property(get, set_, doc=doc)


def _timeout(timeout):
    return None if timeout is None else _seconds(timeout, "timeout")


class Button(Device):
    """A push button.

    Wiring: one leg to the GPIO pin, the other to GND (berrykit turns on the pin's pull-up).

    Example::

        from berrykit import Button, LED, pause
        button = Button("button")
        button.when_pressed = LED("red").toggle
        pause()
    """

    def __init__(self, pin, *, pull_up=None, active_state=None, bounce_time=None, hold_time=None,
                 hold_repeat=False):
        if pull_up is not None and not isinstance(pull_up, bool):
            raise WrongType(f"pull_up must be True, False or None, got {pull_up!r}")
        self._attach(_kit.kit().open_button(
            _part(pin, "Button"), pull_up=pull_up, active_high=active_state,
            bounce_time=None if bounce_time is None else _seconds(bounce_time, "bounce_time"),
            hold_time=None if hold_time is None else _seconds(hold_time, "hold_time"),
            hold_repeat=bool(hold_repeat)))

    when_pressed = _callback_property("pressed", "when_pressed", "Runs when the button is pressed.")
    when_released = _callback_property("released", "when_released", "Runs when the button is let go.")
    when_held = _callback_property("held", "when_held", "Runs when the button is held for hold_time seconds.")

    @property
    def is_pressed(self):
        return self._core.is_active

    is_active = is_pressed

    @property
    def value(self):
        return 1 if self._core.is_active else 0

    @property
    def is_held(self):
        return self._core.is_held

    @property
    def held_time(self):
        """Seconds held past hold_time, or None."""
        return self._core.held_time

    @property
    def pressed_time(self):
        """Seconds since it was pressed, or None while it is not."""
        return self._core.active_time

    @property
    def hold_time(self):
        return self._core.hold_time

    @hold_time.setter
    def hold_time(self, seconds):
        self._core.hold_time = _seconds(seconds, "hold_time")

    @property
    def hold_repeat(self):
        return self._core.hold_repeat

    @hold_repeat.setter
    def hold_repeat(self, value):
        self._core.hold_repeat = bool(value)

    def wait_for_press(self, timeout=None):
        """Waits until the button is pressed. Returns False if ``timeout`` seconds pass first."""
        return self._core.wait_for(True, _timeout(timeout))

    def wait_for_release(self, timeout=None):
        return self._core.wait_for(False, _timeout(timeout))

    wait_for_active = wait_for_press
    wait_for_inactive = wait_for_release

    def _state(self):
        return "pressed" if self._core.is_active else "released"


class MotionSensor(Device):
    """A PIR motion sensor. Wiring: VCC to 5 V, GND to GND, OUT to the GPIO pin.

    Example::

        from berrykit import MotionSensor
        pir = MotionSensor("motion")
        pir.wait_for_motion()
        print("Someone is there!")
    """

    def __init__(self, pin, *, pull_up=None, active_state=None, bounce_time=None):
        self._attach(_kit.kit().open_motion_sensor(
            _part(pin, "MotionSensor"), pull_up=pull_up, active_high=active_state,
            bounce_time=None if bounce_time is None else _seconds(bounce_time, "bounce_time")))

    when_motion = _callback_property("motion", "when_motion", "Runs when motion starts.")
    when_no_motion = _callback_property("no_motion", "when_no_motion", "Runs when motion stops.")

    @property
    def motion_detected(self):
        return self._core.is_active

    is_active = motion_detected

    @property
    def value(self):
        return 1 if self._core.is_active else 0

    def wait_for_motion(self, timeout=None):
        return self._core.wait_for(True, _timeout(timeout))

    def wait_for_no_motion(self, timeout=None):
        return self._core.wait_for(False, _timeout(timeout))

    def _state(self):
        return "motion" if self._core.is_active else "still"


class _SmoothedSensor(Device):
    def _reading(self):
        value = self._core.latest
        if value is None:
            if _kit.kit().manual_clock:
                raise SensorError(f"{self._core.description} has no reading yet: the simulated clock is "
                                  "stopped, so move it on first with berrykit.sim.advance(0.5)")
            if not self._core.wait_for_reading(2.0):
                raise SensorError(f"{self._core.description} gave no reading in 2 seconds: check its wires")
            value = self._core.latest
        return value


class LightSensor(_SmoothedSensor):
    """A light sensor (an LDR with a 1 µF capacitor): ``value`` is 0 (dark) to 1 (bright).

    Wiring: LDR from 3.3 V to the GPIO pin, capacitor from the pin to GND.

    Example::

        from berrykit import LightSensor
        light = LightSensor("light")
        print(light.value)
    """

    def __init__(self, pin, *, queue_len=5, charge_time_limit=0.01, threshold=0.1):
        self._attach(_kit.kit().open_light_sensor(
            _part(pin, "LightSensor"), queue_len=queue_len,
            charge_time_limit=_seconds(charge_time_limit, "charge_time_limit"),
            threshold=_level(threshold, "threshold")))

    when_light = _callback_property("light", "when_light", "Runs when it gets light.")
    when_dark = _callback_property("dark", "when_dark", "Runs when it gets dark.")

    @property
    def value(self):
        return self._reading()

    @property
    def light_detected(self):
        self._reading()
        return self._core.is_active

    is_active = light_detected

    @property
    def threshold(self):
        return self._core.threshold

    @threshold.setter
    def threshold(self, value):
        self._core.threshold = _level(value, "threshold")

    def wait_for_light(self, timeout=None):
        return self._core.wait_for(True, _timeout(timeout))

    def wait_for_dark(self, timeout=None):
        return self._core.wait_for(False, _timeout(timeout))


class DistanceSensor(_SmoothedSensor):
    """An HC-SR04 ultrasonic distance sensor: ``distance`` in metres.

    Open it by name, ``DistanceSensor("distance")``, or by pins, ``DistanceSensor(echo=24, trigger=23)``.
    Wiring: VCC to 5 V, GND to GND, TRIG to the trigger pin, ECHO through a voltage divider
    (1 kΩ + 2 kΩ) to the echo pin, since the Pi's pins take 3.3 V only.

    Example::

        from berrykit import DistanceSensor
        sensor = DistanceSensor("distance")
        print(sensor.distance * 100, "cm")
    """

    def __init__(self, echo="distance", trigger=None, *, queue_len=3, max_distance=1, threshold_distance=0.3):
        k = _kit.kit()
        max_distance = _metres(max_distance, "max_distance")
        threshold_distance = _metres(threshold_distance, "threshold_distance")
        if trigger is None:
            core = k.open_distance_sensor(_part(echo, "DistanceSensor"), queue_len=queue_len,
                                          max_distance=max_distance, threshold_distance=threshold_distance)
        elif all(isinstance(p, int) and not isinstance(p, bool) for p in (echo, trigger)):
            core = k.open_distance_sensor_pins(echo, trigger, queue_len=queue_len, max_distance=max_distance,
                                               threshold_distance=threshold_distance)
        else:
            raise WrongType("DistanceSensor needs the name of a distance sensor in the kit (like "
                            "DistanceSensor(\"distance\")) or two GPIO numbers (echo=24, trigger=23)")
        self._attach(core)

    when_in_range = _callback_property("in_range", "when_in_range", "Runs when something comes close.")
    when_out_of_range = _callback_property("out_of_range", "when_out_of_range", "Runs when it goes away.")

    @property
    def distance(self):
        """Distance in metres, up to max_distance."""
        return self._reading()

    @property
    def value(self):
        """Distance as a fraction of max_distance (0 to 1)."""
        return self._reading() / self._core.max_distance

    @property
    def max_distance(self):
        return self._core.max_distance

    @max_distance.setter
    def max_distance(self, metres):
        self._core.max_distance = _metres(metres, "max_distance")

    @property
    def threshold_distance(self):
        return self._core.threshold

    @threshold_distance.setter
    def threshold_distance(self, metres):
        self._core.threshold = _metres(metres, "threshold_distance")

    @property
    def in_range(self):
        self._reading()
        return self._core.is_active

    is_active = in_range

    def wait_for_in_range(self, timeout=None):
        return self._core.wait_for(True, _timeout(timeout))

    def wait_for_out_of_range(self, timeout=None):
        return self._core.wait_for(False, _timeout(timeout))


class TemperatureSensor(Device):
    """A DS18B20 temperature sensor, read by the kernel's 1-Wire driver: ``temperature`` in °C.

    Wiring: red to 3.3 V, black to GND, yellow (data) to GPIO4 with a 4.7 kΩ resistor to 3.3 V;
    the kit's overlay switches the 1-Wire driver on: ``dtoverlay=berrykit-classroom`` in
    ``/boot/firmware/config.txt`` (``sudo scripts/install-pi.sh`` puts it in place).

    Example::

        from berrykit import TemperatureSensor
        print(TemperatureSensor("temperature").temperature)
    """

    def __init__(self, name="temperature"):
        self._attach(_kit.kit().open_temperature_sensor(_part(name, "TemperatureSensor")))

    @property
    def temperature(self):
        return self._core.temperature()

    value = temperature


class HumidityTemperatureSensor(Device):
    """A DHT11 or DHT22, read by the kernel's dht11 driver: ``temperature`` (°C) and ``humidity`` (%).

    Wiring: + to 3.3 V, - to GND, out to the GPIO pin (GPIO25 in the classroom kit); the kit's
    overlay switches the dht11 driver on, which reads DHT22s too: ``dtoverlay=berrykit-classroom``
    in ``/boot/firmware/config.txt``.

    Example::

        from berrykit import HumidityTemperatureSensor
        climate = HumidityTemperatureSensor("climate")
        print(climate.temperature, climate.humidity)
    """

    def __init__(self, name="climate"):
        self._attach(_kit.kit().open_humidity_temperature_sensor(_part(name, "HumidityTemperatureSensor")))

    def read(self):
        """(temperature in °C, humidity in %), from one reading."""
        return self._core.read()

    @property
    def temperature(self):
        return self._core.read()[0]

    @property
    def humidity(self):
        return self._core.read()[1]

    value = read


class TrafficLights:
    """Three LEDs: red, amber and green, as on a road.

    Example::

        from berrykit import TrafficLights
        lights = TrafficLights()
        lights.green.on()
    """

    def __init__(self, red="red", amber="amber", green="green", *, pwm=False, yellow=None):
        if yellow is not None:
            amber = yellow
        cls = PWMLED if pwm else LED
        opened = []
        try:
            for pin in (red, amber, green):
                opened.append(cls(pin))
        except BaseException:
            for led in opened:
                led.close()
            raise
        self.red, self.amber, self.green = opened
        self.yellow = self.amber
        self.leds = tuple(opened)

    def on(self):
        for led in self.leds:
            led.on()

    def off(self):
        for led in self.leds:
            led.off()

    def toggle(self):
        for led in self.leds:
            led.toggle()

    @property
    def value(self):
        return tuple(led.value for led in self.leds)

    @value.setter
    def value(self, values):
        try:
            r, a, g = values
        except (TypeError, ValueError):
            raise WrongType(f"TrafficLights.value takes three values (red, amber, green), got {values!r}") from None
        for led, v in zip(self.leds, (r, a, g)):
            led.value = v

    def blink(self, on_time=1, off_time=1, n=None, background=True):
        for led in self.leds:
            led.blink(on_time, off_time, n, background=True)
        if not background:
            for led in self.leds:
                led._blink_wait(False)

    def close(self):
        for led in self.leds:
            led.close()

    @property
    def closed(self):
        return all(led.closed for led in self.leds)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<berrykit.TrafficLights {self.value}>"
