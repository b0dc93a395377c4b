"""The kit of a script that uses berrykitd: the same parts and calls as in-process, where each
call is a request over the daemon's socket (daemon/PROTOCOL.md) and callbacks arrive as events.

``LED("red").on()`` is one request. A part's pins stay with the daemon; this script only claims
the part, and when the script ends (or crashes) the daemon gives the part back and turns it off.
"""
import json
import os
import socket
import sys
import threading
import time

from .exc import BerrykitError, PartInUse, PartNotFound, Unsupported, WrongType, error_class

DEFAULT_SOCKET = "/run/berrykit/berrykit.sock"

_ERRORS = {"not_claimed": PartInUse, "bad_request": WrongType, "unknown_op": Unsupported,
           "forbidden": BerrykitError, "too_long": BerrykitError, "cloud_off": Unsupported}


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
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._replies = {}
        self._events = []
        self._pushed = 0
        self._closed = False
        self._next_id = 0
        self._next_device = 0
        self._listeners = {}  # part name -> list of devices that want its events
        self._subscribed = set()
        self._start = time.monotonic()
        self._reader = threading.Thread(target=self._read, name="berrykit-daemon", daemon=True)
        self._reader.start()
        hello = self.request("hello", protocol=1, program=os.path.basename(sys.argv[0] or "python3") or "python3")
        self.backend_kind = "daemon"
        self.simulated = hello["backend"] == "sim"  # berrykit.sim's presses and sensors work through it
        self.backend_reason = f"berrykitd on {self.path} ({hello['backend']})"
        self.board_name = hello["board"]
        self.board_file = ""
        self.manual_clock = False
        self._parts = {p["name"]: p for p in self.request("parts")["parts"]}

    # ---- the connection ----------------------------------------------------------------------
    def _read(self):
        try:
            for line in self._file:
                message = json.loads(line)
                with self._cond:
                    if "event" in message:
                        for device in self._listeners.get(message["part"], ()):
                            if device._seen(message["event"], message["time"]) is False:
                                continue
                            self._events.append((device.id, message["event"], message["time"]))
                            self._pushed += 1
                    else:
                        self._replies[message.get("id")] = message
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _post(self, device_id, kind):
        """An event made here (a button held for the script's hold_time), for the callbacks."""
        with self._cond:
            self._events.append((device_id, kind, time.monotonic()))
            self._pushed += 1
            self._cond.notify_all()

    def request(self, op, **fields):
        with self._send_lock:
            self._next_id += 1
            request_id = self._next_id
            data = (json.dumps({"id": request_id, "op": op, **fields}) + "\n").encode()
            try:
                self._sock.sendall(data)
            except OSError:
                raise BerrykitError("berrykitd went away: start it again and run your script again") from None
        with self._cond:
            self._cond.wait_for(lambda: request_id in self._replies or self._closed)
            reply = self._replies.pop(request_id, None)
        if reply is None:
            raise BerrykitError("berrykitd went away: start it again and run your script again")
        if not reply.get("ok"):
            error = reply["error"]
            cls = _ERRORS.get(error["code"]) or error_class(error["code"])
            raise cls(error["message"])
        return reply

    # ---- what _kit and the dispatcher use ----------------------------------------------------
    @property
    def closed(self):
        return self._closed

    def parts(self):
        return list(self.request("parts")["parts"])

    def seconds(self):
        return time.monotonic() - self._start

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

    def set_sensor(self, part, quantity, value):
        fields = {"quantity": quantity} if quantity else {}
        self.request("sim_set_sensor", part=part, value=value, **fields)

    def set_sensor_fault(self, part, faulty):
        self.request("sim_set_sensor_fault", part=part, faulty=faulty)

    def _only_in_process(self, what):
        raise Unsupported(f"{what} works only when the script runs the simulated board itself "
                          "(BERRYKIT_BOARD=sim), not through berrykitd")

    def hold(self, part, seconds, after=0.0):
        self._only_in_process("sim.hold()")

    def trigger_motion(self, part, seconds):
        self._only_in_process("sim.trigger_motion()")

    def set_sensor_curve(self, part, quantity, points, repeat=False):
        self._only_in_process("a sensor curve")

    def history(self, ref, role=""):
        self._only_in_process("sim.history()")

    def clear_history(self, ref, role=""):
        self._only_in_process("sim.clear_history()")

    def advance(self, seconds):
        self._only_in_process("sim.advance()")

    # ---- parts -------------------------------------------------------------------------------
    def _part(self, ref, types, kind):
        if isinstance(ref, int):
            line = f"GPIO{ref}"
            for part in self._parts.values():
                if list(part["lines"].values()) == [line]:
                    ref = part["name"]
                    break
            else:
                raise PartNotFound(f"berrykitd has no part on GPIO{ref}: use a part's name, like "
                                   f"{next(iter(self._parts), 'red')!r}")
        if ref not in self._parts:
            self.request("claim", part=ref)  # the daemon's "no part called …, did you mean" error
        part = self._parts[ref]
        if part["type"] not in types:
            raise WrongType(f"'{ref}' is a {part['kind']}, not a {kind}")
        return part

    def _open(self, cls, ref, types, kind, **options):
        part = self._part(ref, types, kind)
        self.request("claim", part=part["name"])
        self._next_device += 1
        device = cls(self, self._next_device, part, kind, **options)
        if cls.listens:
            with self._cond:
                self._listeners.setdefault(part["name"], []).append(device)
            if part["name"] not in self._subscribed:
                self._subscribed.add(part["name"])
                self.request("subscribe", parts=sorted(self._subscribed))
        return device

    def open_led(self, ref, active_high=None, initial_value=False):
        return self._open(RemoteDigital, ref, ("led",), "LED", initial=1.0 if initial_value else 0.0)

    def open_buzzer(self, ref, active_high=None, initial_value=False):
        return self._open(RemoteDigital, ref, ("buzzer",), "buzzer", initial=1.0 if initial_value else 0.0)

    def open_pwm_led(self, ref, active_high=None, initial_value=0.0, frequency=100.0):
        return self._open(RemoteOutput, ref, ("led",), "LED", initial=initial_value, frequency=frequency)

    def open_rgb_led(self, ref, active_high=None, initial_value=(0, 0, 0), pwm=True):
        return self._open(RemoteRgb, ref, ("rgb_led",), "RGB LED", initial=initial_value)

    def _part_on_lines(self, lines, kind):
        wanted = {role: f"GPIO{pin}" for role, pin in lines.items()}
        for part in self._parts.values():
            if part["lines"] == wanted:
                return part["name"]
        pins = ", ".join(f"{role}={pin}" for role, pin in lines.items())
        raise PartNotFound(f"berrykitd has no {kind} on {pins}: use its name in the kit")

    def open_rgb_led_pins(self, red, green, blue, active_high=None, initial_value=(0, 0, 0), pwm=True):
        name = self._part_on_lines({"red": red, "green": green, "blue": blue}, "RGB LED")
        return self.open_rgb_led(name, initial_value=initial_value)

    def open_button(self, ref, pull_up=None, active_high=None, bounce_time=None, hold_time=None, hold_repeat=False):
        return self._open(RemoteInput, ref, ("button",), "button", state_key="pressed",
                          hold_time=1.0 if hold_time is None else hold_time, hold_repeat=hold_repeat)

    def open_motion_sensor(self, ref, pull_up=None, active_high=None, bounce_time=None):
        return self._open(RemoteInput, ref, ("motion_sensor",), "motion sensor", state_key="motion")

    def open_light_sensor(self, ref, queue_len=5, charge_time_limit=0.01, threshold=0.1):
        return self._open(RemoteSmoothed, ref, ("light_sensor",), "light sensor", threshold=threshold,
                          above=True)

    def open_distance_sensor(self, ref, queue_len=3, max_distance=1.0, threshold_distance=0.3):
        return self._open(RemoteSmoothed, ref, ("distance_sensor",), "distance sensor",
                          threshold=threshold_distance, above=False, max_distance=max_distance)

    def open_distance_sensor_pins(self, echo, trigger, queue_len=3, max_distance=1.0, threshold_distance=0.3):
        name = self._part_on_lines({"echo": echo, "trigger": trigger}, "distance sensor")
        return self.open_distance_sensor(name, queue_len, max_distance, threshold_distance)

    def open_temperature_sensor(self, ref):
        return self._open(RemoteSensor, ref, ("ds18b20",), "temperature sensor")

    def open_humidity_temperature_sensor(self, ref):
        return self._open(RemoteSensor, ref, ("dht11", "dht22"), "climate sensor")


class RemoteDevice:
    listens = False

    def __init__(self, kit, device_id, part, kind, **options):
        self._kit = kit
        self.id = device_id
        self.part = part["name"]
        self.description = f"the {kind} '{part['name']}'"
        self.lines = dict(part["lines"])
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        if not self._kit.closed:
            try:
                self._kit.request("release", part=self.part)
            except BerrykitError:
                pass

    def _request(self, op, **fields):
        if self.closed:
            from .exc import DeviceClosed
            raise DeviceClosed(f"{self.description} was closed, so it cannot be used any more. "
                               "Open it again if you need it.")
        return self._kit.request(op, part=self.part, **fields)

    def _state(self):
        return self._request("get")["state"]

    def _seen(self, kind, when):
        pass


class RemoteOutput(RemoteDevice):
    """An LED (dimmable) or a buzzer, driven by berrykitd."""

    def __init__(self, kit, device_id, part, kind, initial=0.0, frequency=100.0):
        super().__init__(kit, device_id, part, kind)
        self._animation_end = 0.0
        self.active_high = part.get("active_high", True)
        if frequency != 100.0:
            self.frequency = frequency
        if initial:
            self.value = initial

    @property
    def frequency(self):
        """The PWM frequency in Hz, kept by berrykitd (100 until changed)."""
        return float(self._state().get("frequency", 100.0))

    @frequency.setter
    def frequency(self, hz):
        self._request("frequency", value=hz)

    @property
    def value(self):
        return float(self._state()["value"])

    @value.setter
    def value(self, level):
        self._animation_end = 0.0
        self._request("set", value=level)

    def set_value(self, on):
        self.value = 1.0 if on else 0.0

    def on(self):
        self.value = 1.0

    def off(self):
        self.value = 0.0

    def toggle(self):
        self.value = 1.0 - self.value

    @property
    def is_active(self):
        return self.value > 0

    def blink(self, on_time, off_time, fade_in_time=0.0, fade_out_time=0.0, n=None):
        self._request("blink", on_time=on_time, off_time=off_time, fade_in_time=fade_in_time,
                      fade_out_time=fade_out_time, n=n)
        cycle = on_time + off_time + fade_in_time + fade_out_time
        self._animation_end = float("inf") if n is None else time.monotonic() + n * cycle

    def pulse(self, fade_in_time, fade_out_time, n=None):
        self.blink(0.0, 0.0, fade_in_time, fade_out_time, n)

    @property
    def animating(self):
        return time.monotonic() < self._animation_end

    def wait_for_animation(self, timeout=None):
        # The daemon runs the blink; its end is known from its times.
        remaining = self._animation_end - time.monotonic()
        if remaining == float("inf"):
            if timeout is None:
                threading.Event().wait()
            time.sleep(timeout)
            return False
        if timeout is not None and remaining > timeout:
            time.sleep(timeout)
            return False
        time.sleep(max(0.0, remaining))
        return True


class RemoteDigital(RemoteOutput):
    """An LED or buzzer opened as on/off: blink(on_time, off_time, n)."""

    def blink(self, on_time, off_time, n=None):
        super().blink(on_time, off_time, 0.0, 0.0, n)


class RemoteRgb(RemoteOutput):
    def __init__(self, kit, device_id, part, kind, initial=(0, 0, 0)):
        RemoteDevice.__init__(self, kit, device_id, part, kind)
        self._animation_end = 0.0
        if any(initial):
            self.color = initial

    @property
    def color(self):
        return tuple(self._state()["value"])

    @color.setter
    def color(self, value):
        self._animation_end = 0.0
        self._request("set", value=list(value))

    def on(self):
        self.color = (1, 1, 1)

    def off(self):
        self.color = (0, 0, 0)

    def toggle(self):
        self.color = tuple(1 - c for c in self.color)

    @property
    def is_active(self):
        return any(self.color)

    def blink(self, on_time, off_time, fade_in_time, fade_out_time, on_color, off_color, n=None):
        self._request("blink", on_time=on_time, off_time=off_time, fade_in_time=fade_in_time,
                      fade_out_time=fade_out_time, on_color=list(on_color), off_color=list(off_color), n=n)
        cycle = on_time + off_time + fade_in_time + fade_out_time
        self._animation_end = float("inf") if n is None else time.monotonic() + n * cycle

    def pulse(self, fade_in_time, fade_out_time, on_color, off_color, n=None):
        self.blink(0.0, 0.0, fade_in_time, fade_out_time, on_color, off_color, n)


class RemoteInput(RemoteDevice):
    """A button or a motion sensor: its state follows the daemon's events."""

    listens = True

    def __init__(self, kit, device_id, part, kind, state_key="pressed", hold_time=1.0, hold_repeat=False):
        super().__init__(kit, device_id, part, kind)
        self._key = state_key
        self._cond = threading.Condition()
        self._active = bool(self._state()[state_key])
        self._since = time.monotonic() if self._active else None
        self._held = False
        self._press = 0  # counts presses, so a hold timer knows whether its press is still on
        if not isinstance(hold_time, (int, float)) or not 0 < hold_time <= 60:
            from .exc import BadValue
            raise BadValue(f"hold_time for {self.description} must be more than 0 and at most 60 seconds, "
                           f"got {hold_time}")
        self.hold_time = float(hold_time)
        self.hold_repeat = bool(hold_repeat)

    def _seen(self, kind, when):  # on the reader thread, with the kit's lock held
        with self._cond:
            if kind in ("pressed", "motion"):
                self._active, self._since, self._held = True, time.monotonic(), False
                self._press += 1
                if self._key == "pressed":
                    self._hold_later(self._press)
            elif kind in ("released", "no_motion"):
                self._active, self._since, self._held = False, None, False
            self._cond.notify_all()
        # The daemon's own "held" (at the board's hold time) is not used: this button's
        # hold_time is the script's, timed here.
        return kind != "held"

    def _hold_later(self, press):
        timer = threading.Timer(self.hold_time, self._held_now, args=(press,))
        timer.daemon = True
        timer.start()

    def _held_now(self, press):
        with self._cond:
            if self.closed or not self._active or self._press != press:
                return
            self._held = True
            self._cond.notify_all()
        self._kit._post(self.id, "held")
        if self.hold_repeat:
            self._hold_later(press)

    @property
    def is_active(self):
        if self.closed:
            self._request("get")
        return self._active

    @property
    def active_time(self):
        return None if self._since is None else time.monotonic() - self._since

    @property
    def is_held(self):
        return self._held

    @property
    def held_time(self):
        t = self.active_time
        return None if not self._held or t is None else max(0.0, t - self.hold_time)

    def wait_for(self, active, timeout=None):
        with self._cond:
            return self._cond.wait_for(lambda: self._active == active or self._kit.closed, timeout) and \
                self._active == active


class RemoteSmoothed(RemoteDevice):
    """A light or distance sensor: the daemon measures, this reads its latest value."""

    def __init__(self, kit, device_id, part, kind, threshold=0.1, above=True, max_distance=1.0):
        super().__init__(kit, device_id, part, kind)
        self.threshold = threshold
        self._above = above
        self.max_distance = max_distance
        self.measurements = 0

    @property
    def latest(self):
        value = self._state()["value"]
        if value is not None and not self._above:
            value = min(value, self.max_distance)
        return value

    @property
    def is_active(self):
        value = self.latest
        return value is not None and (value > self.threshold if self._above else value < self.threshold)

    def wait_for_reading(self, timeout=None):
        return self._poll(lambda: self.latest is not None, timeout)

    def wait_for(self, active, timeout=None):
        return self._poll(lambda: self.is_active == active, timeout)

    def _poll(self, ready, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        while not ready():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


class RemoteSensor(RemoteDevice):
    """A temperature or climate sensor, read by the daemon on request."""

    def temperature(self):
        return float(self._request("read")["value"])

    def read(self):
        reply = self._request("read")
        return float(reply["temperature"]), float(reply["humidity"])
