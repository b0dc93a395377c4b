"""The kit of a script that uses berrykitd: the same parts and calls as in-process, where each
call is a request over the daemon's socket (daemon/PROTOCOL.md) and callbacks arrive as events.

This module holds no device behaviour. Opening ``Button("button", hold_time=2)`` asks berrykitd
to open a button of its own for this script, with this script's options, made by the same C++
classes a script uses in-process: hold and repeat timing, debounce, smoothing, thresholds, the end
of a blink and every wait happen there, on the board's clock, and this module only forwards calls
and hands the device's events to the callbacks. A part's pins stay with the daemon; when the
script ends (or crashes) the daemon closes the script's devices and turns its outputs off.
"""
import json
import os
import socket
import sys
import threading

from .exc import BerrykitError, DeviceClosed, PartInUse, Unsupported, WrongType, error_class

DEFAULT_SOCKET = "/run/berrykit/berrykit.sock"

_ERRORS = {"not_claimed": PartInUse, "bad_request": WrongType, "unknown_op": Unsupported,
           "forbidden": BerrykitError, "too_long": BerrykitError, "cloud_off": Unsupported}

_GONE = "berrykitd went away: start it again and run your script again"


def sim_socket_path():
    """Where ``berrykit sim`` puts its berrykitd for this user (as the C++ client finds it)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "berrykit", "berrykit.sock")
    return f"/tmp/berrykit-{os.getuid()}/berrykit.sock"


def socket_path():
    """BERRYKIT_SOCKET, else the socket of a running ``berrykit sim``, else the system's berrykitd."""
    if os.environ.get("BERRYKIT_SOCKET"):
        return os.environ["BERRYKIT_SOCKET"]
    sim = sim_socket_path()
    return sim if os.path.exists(sim) else DEFAULT_SOCKET


def _error(error):
    cls = _ERRORS.get(error["code"]) or error_class(error["code"])
    return cls(error["message"])


class RemoteKit:
    """A connection to berrykitd, with a reader thread that sorts replies from events."""

    def __init__(self, path=None):
        self.path = path or socket_path()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(self.path)
        except PermissionError:
            raise BerrykitError(f"you may not talk to berrykitd ({self.path}): ask your teacher to add you "
                                "to the 'berrykit' group (sudo adduser $USER berrykit), then log in again") from None
        except OSError as e:
            raise Unsupported(f"berrykitd is not answering on {self.path} ({e.strerror}): start it with "
                              "'sudo systemctl start berrykitd', or practise with BERRYKIT_BOARD=sim") from None
        self._file = self._sock.makefile("rb")
        self._send_lock = threading.RLock()  # a device collected mid-request releases from __del__
        self._cond = threading.Condition()
        self._replies = {}
        self._events = []
        self._pushed = 0
        self._closed = False
        self._next_id = 0
        self._devices = set()  # ids of the devices this script opened: their events are ours
        self._unanswered = set()  # requests sent with send_only: their replies are dropped
        self._reader = threading.Thread(target=self._read, name="berrykit-daemon", daemon=True)
        self._reader.start()
        hello = self.request("hello", protocol=1, program=os.path.basename(sys.argv[0] or "python3") or "python3")
        self.backend_kind = "daemon"
        self.simulated = hello["backend"] == "sim"  # berrykit.sim's controls work through it
        self.backend_reason = f"berrykitd on {self.path} ({hello['backend']})"
        self.board_name = hello["board"]
        self.board_file = hello.get("board_file", "")
        self.manual_clock = hello.get("clock") == "manual"

    # ---- the connection ----------------------------------------------------------------------
    def _read(self):
        try:
            for line in self._file:
                message = json.loads(line)
                with self._cond:
                    if "event" in message:
                        # Only this script's own devices' events: berrykitd sends them before the
                        # reply to the request that caused them.
                        if message.get("device") in self._devices:
                            self._events.append((message["device"], message["event"], message["time"]))
                            self._pushed += 1
                    elif message.get("id") in self._unanswered:
                        self._unanswered.discard(message.get("id"))
                    else:
                        self._replies[message.get("id")] = message
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def request(self, op, **fields):
        with self._send_lock:
            self._next_id += 1
            request_id = self._next_id
            data = (json.dumps({"id": request_id, "op": op, **fields}) + "\n").encode()
            try:
                self._sock.sendall(data)
            except OSError:
                raise BerrykitError(_GONE) from None
        with self._cond:
            self._cond.wait_for(lambda: request_id in self._replies or self._closed)
            reply = self._replies.pop(request_id, None)
        if reply is None:
            raise BerrykitError(_GONE)
        if not reply.get("ok"):
            raise _error(reply["error"])
        return reply

    def send_only(self, op, **fields):
        """Sends a request without waiting for its reply (from __del__, which must not block)."""
        with self._send_lock:
            if self._closed:
                return
            self._next_id += 1
            self._unanswered.add(self._next_id)
            data = (json.dumps({"id": self._next_id, "op": op, **fields}) + "\n").encode()
            try:
                self._sock.sendall(data)
            except OSError:
                pass

    # ---- what _kit and the dispatcher use ----------------------------------------------------
    @property
    def closed(self):
        return self._closed

    def parts(self):
        """The parts as in-process (name, type, kind, lines, label, active_high, pull, keep), with
        berrykitd's ``state`` and ``owner`` of each too."""
        return list(self.request("parts")["parts"])

    def seconds(self):
        return self.request("clock")["seconds"]

    def next_event(self, timeout=None):
        with self._cond:
            if not self._cond.wait_for(lambda: self._events or self._closed, timeout):
                return None
            return self._events.pop(0) if self._events else None

    def events_pushed(self):
        with self._cond:
            return self._pushed

    def events_dropped(self):
        return 0

    def close(self):
        with self._cond:
            if self._closed:
                return
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._reader.join(5)

    # ---- the simulated board, through the daemon (berrykit.sim) --------------------------------
    def press(self, part):
        self.request("sim_press", part=part)

    def release(self, part):
        self.request("sim_release", part=part)

    def hold(self, part, seconds, after=0.0):
        self.request("sim_hold", part=part, seconds=seconds, after=after)

    def trigger_motion(self, part, seconds):
        self.request("sim_trigger_motion", part=part, seconds=seconds)

    def set_sensor(self, part, quantity, value):
        fields = {"quantity": quantity} if quantity else {}
        self.request("sim_set_sensor", part=part, value=value, **fields)

    def set_sensor_curve(self, part, quantity, points, repeat=False):
        fields = {"quantity": quantity} if quantity else {}
        self.request("sim_set_sensor", part=part, curve=[list(p) for p in points], repeat=repeat, **fields)

    def set_sensor_fault(self, part, faulty):
        self.request("sim_set_sensor_fault", part=part, faulty=faulty)

    def history(self, ref, role=""):
        reply = self.request("sim_history", part=ref, **({"line": role} if role else {}))
        return [tuple(sample) for sample in reply["history"]]

    def clear_history(self, ref, role=""):
        self.request("sim_clear_history", part=ref, **({"line": role} if role else {}))

    def advance(self, seconds):
        self.request("sim_advance", seconds=seconds)

    # ---- parts: opened by berrykitd as this script's class, with its options ---------------------
    def _open(self, cls, ref, as_, **options):
        options = {k: v for k, v in options.items() if v is not None}
        reply = self.request("claim", part=ref, options=options, **{"as": as_})
        device = cls(self, reply["device"], reply["part"]["name"])
        with self._cond:
            self._devices.add(device.id)
        return device

    def open_led(self, ref, active_high=None, initial_value=False):
        return self._open(RemoteDigital, ref, "led", active_high=active_high, initial_value=initial_value)

    def open_buzzer(self, ref, active_high=None, initial_value=False):
        return self._open(RemoteDigital, ref, "buzzer", active_high=active_high, initial_value=initial_value)

    def open_pwm_led(self, ref, active_high=None, initial_value=0.0, frequency=100.0):
        return self._open(RemotePwm, ref, "pwm_led", active_high=active_high, initial_value=initial_value,
                          frequency=frequency)

    def open_rgb_led(self, ref, active_high=None, initial_value=(0, 0, 0), pwm=True):
        return self._open(RemoteRgb, ref, "rgb_led", active_high=active_high, initial_value=list(initial_value),
                          pwm=pwm)

    def _part_on_lines(self, lines, kind):
        wanted = {role: f"GPIO{pin}" for role, pin in lines.items()}
        for part in self.request("parts")["parts"]:
            if part["lines"] == wanted:
                return part["name"]
        pins = ", ".join(f"{role}={pin}" for role, pin in lines.items())
        raise error_class("unknown_part")(f"berrykitd has no {kind} on {pins}: use its name in the kit")

    def open_rgb_led_pins(self, red, green, blue, active_high=None, initial_value=(0, 0, 0), pwm=True):
        name = self._part_on_lines({"red": red, "green": green, "blue": blue}, "RGB LED")
        return self.open_rgb_led(name, active_high=active_high, initial_value=initial_value, pwm=pwm)

    def open_button(self, ref, pull_up=None, active_high=None, bounce_time=None, hold_time=None, hold_repeat=False):
        return self._open(RemoteButton, ref, "button", pull_up=pull_up, active_high=active_high,
                          bounce_time=bounce_time, hold_time=hold_time, hold_repeat=hold_repeat)

    def open_motion_sensor(self, ref, pull_up=None, active_high=None, bounce_time=None):
        return self._open(RemoteInput, ref, "motion_sensor", pull_up=pull_up, active_high=active_high,
                          bounce_time=bounce_time)

    def open_light_sensor(self, ref, queue_len=5, charge_time_limit=0.01, threshold=0.1):
        return self._open(RemoteLight, ref, "light_sensor", queue_len=queue_len,
                          charge_time_limit=charge_time_limit, threshold=threshold)

    def open_distance_sensor(self, ref, queue_len=3, max_distance=1.0, threshold_distance=0.3):
        return self._open(RemoteDistance, ref, "distance_sensor", queue_len=queue_len, max_distance=max_distance,
                          threshold_distance=threshold_distance)

    def open_distance_sensor_pins(self, echo, trigger, queue_len=3, max_distance=1.0, threshold_distance=0.3):
        name = self._part_on_lines({"echo": echo, "trigger": trigger}, "distance sensor")
        return self.open_distance_sensor(name, queue_len, max_distance, threshold_distance)

    def open_temperature_sensor(self, ref):
        return self._open(RemoteTemperature, ref, "temperature_sensor")

    def open_humidity_temperature_sensor(self, ref):
        return self._open(RemoteClimate, ref, "climate_sensor")


class RemoteDevice:
    """A device berrykitd opened for this script: the _core.Device calls, as requests."""

    def __init__(self, kit, device, part):
        self._kit = kit
        self.id = device["id"]
        self.part = device["name"]  # as in-process: "red", or "GPIO17" when opened by number
        self.description = device["description"]
        self.lines = dict(device["lines"])
        self._part = part  # the board's part, which requests name
        self._closed = False

    @property
    def closed(self):
        return self._closed or self._kit.closed

    def close(self):
        if self._closed:
            return
        self._closed = True
        if not self._kit.closed:
            try:
                self._kit.request("release", part=self._part)
            except BerrykitError:
                pass

    def __del__(self):
        # As in-process, where the C++ device closes when its last reference goes: a part a script
        # drops is free again (for the same script, too).
        if not self._closed and not self._kit.closed:
            self._closed = True
            self._kit.send_only("release", part=self._part)

    def _request(self, op, **fields):
        if self.closed:
            raise DeviceClosed(f"{self.description} was closed, so it cannot be used any more. "
                               "Open it again if you need it.")
        return self._kit.request(op, part=self._part, **fields)

    def _state(self):
        return self._request("get")["state"]

    def _wait(self, until, timeout):
        return self._request("wait", until=until, timeout=timeout)["done"]

    def _configure(self, **settings):
        self._request("configure", settings=settings)


class _RemoteOutput(RemoteDevice):
    @property
    def animating(self):
        return self._state()["animating"]

    def wait_for_animation(self, timeout=None):
        return self._wait("animation_done", timeout)

    def off(self):
        self._request("set", value=0)


class RemoteDigital(_RemoteOutput):
    """An LED or a buzzer, on or off (a DigitalOutputDevice in berrykitd)."""

    def on(self):
        self._request("set", value=1)

    def set_value(self, on):
        self._request("set", value=1 if on else 0)

    def toggle(self):
        self.set_value(not self.is_active)

    @property
    def is_active(self):
        return self._state()["value"] == 1

    def blink(self, on_time, off_time, n=None):
        self._request("blink", on_time=on_time, off_time=off_time, n=n)


class RemotePwm(_RemoteOutput):
    """An LED dimmed with PWM (a PwmOutputDevice in berrykitd)."""

    def on(self):
        self._request("set", value=1)

    def toggle(self):
        self.value = 1 - self.value

    @property
    def value(self):
        return float(self._state()["value"])

    @value.setter
    def value(self, level):
        self._request("set", value=level)

    @property
    def is_active(self):
        return self.value > 0

    @property
    def frequency(self):
        return float(self._state()["frequency"])

    @frequency.setter
    def frequency(self, hz):
        self._request("frequency", value=hz)

    def blink(self, on_time, off_time, fade_in_time, fade_out_time, n=None):
        self._request("blink", on_time=on_time, off_time=off_time, fade_in_time=fade_in_time,
                      fade_out_time=fade_out_time, n=n)

    def pulse(self, fade_in_time, fade_out_time, n=None):
        self._request("pulse", fade_in_time=fade_in_time, fade_out_time=fade_out_time, n=n)


class RemoteRgb(_RemoteOutput):
    """A three-colour LED (an RgbLed in berrykitd)."""

    def on(self):
        self.color = (1, 1, 1)

    def toggle(self):
        self.color = tuple(1 - c for c in self.color)

    @property
    def color(self):
        return tuple(self._state()["value"])

    @color.setter
    def color(self, value):
        self._request("set", value=list(value))

    @property
    def is_active(self):
        return any(self.color)

    def blink(self, on_time, off_time, fade_in_time, fade_out_time, on_color, off_color, n=None):
        self._request("blink", on_time=on_time, off_time=off_time, fade_in_time=fade_in_time,
                      fade_out_time=fade_out_time, on_color=list(on_color), off_color=list(off_color), n=n)

    def pulse(self, fade_in_time, fade_out_time, on_color, off_color, n=None):
        self._request("pulse", fade_in_time=fade_in_time, fade_out_time=fade_out_time, on_color=list(on_color),
                      off_color=list(off_color), n=n)


class RemoteInput(RemoteDevice):
    """A motion sensor, or the base of a button (a DigitalInputDevice in berrykitd)."""

    _key = "motion"

    @property
    def is_active(self):
        return bool(self._state()[self._key])

    @property
    def active_time(self):
        return self._state()["active_time"]

    def wait_for(self, active, timeout=None):
        return self._wait("active" if active else "inactive", timeout)


class RemoteButton(RemoteInput):
    _key = "pressed"

    @property
    def is_held(self):
        return self._state()["held"]

    @property
    def held_time(self):
        return self._state()["held_time"]

    @property
    def hold_time(self):
        return self._state()["hold_time"]

    @hold_time.setter
    def hold_time(self, seconds):
        self._configure(hold_time=seconds)

    @property
    def hold_repeat(self):
        return self._state()["hold_repeat"]

    @hold_repeat.setter
    def hold_repeat(self, repeat):
        self._configure(hold_repeat=repeat)


class _RemoteSmoothed(RemoteDevice):
    _threshold_key = "threshold"

    @property
    def latest(self):
        return self._state()["value"]

    @property
    def is_active(self):
        return self._state()["active"]

    @property
    def threshold(self):
        return self._state()["threshold"]

    @threshold.setter
    def threshold(self, value):
        self._configure(**{self._threshold_key: value})

    @property
    def measurements(self):
        return self._state()["measurements"]

    def wait_for_reading(self, timeout=None):
        return self._wait("reading", timeout)

    def wait_for(self, active, timeout=None):
        return self._wait("active" if active else "inactive", timeout)


class RemoteLight(_RemoteSmoothed):
    @property
    def charge_time_limit(self):
        return self._state()["charge_time_limit"]


class RemoteDistance(_RemoteSmoothed):
    _threshold_key = "threshold_distance"

    @property
    def max_distance(self):
        return self._state()["max_distance"]

    @max_distance.setter
    def max_distance(self, metres):
        self._configure(max_distance=metres)


class RemoteTemperature(RemoteDevice):
    def temperature(self):
        return float(self._request("read")["value"])


class RemoteClimate(RemoteDevice):
    def read(self):
        reply = self._request("read")
        return float(reply["temperature"]), float(reply["humidity"])
