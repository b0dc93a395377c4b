"""Drive the simulated board: for teachers showing a lesson, and for tests.

Works when scripts run on the simulated board (``BERRYKIT_BOARD=sim``, or a computer with no
GPIO pins). Parts are named as in the kit::

    from berrykit import Button, LED
    from berrykit import sim

    sim.use_manual_clock()          # time stands still until advance()
    red = LED("red")
    Button("button").when_pressed = red.toggle
    sim.press("button")             # when_pressed has run when press() returns
    red.blink(1, 1, n=2)
    sim.advance(4)
    print(sim.history("red"))       # [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (2.0, 1.0), (3.0, 0.0)]
"""
from . import _kit
from .exc import Unsupported, WrongType

__all__ = [
    "press", "release", "hold", "trigger_motion", "set_sensor", "set_sensor_fault", "history",
    "clear_history", "advance", "now", "use_manual_clock", "use_real_clock", "reset", "is_simulated",
    "parts", "settle",
]


def _sim_kit():
    k = _kit.kit()
    if k.backend_kind != "sim" and not getattr(k, "simulated", False):
        raise Unsupported("berrykit.sim only works on the simulated board; this script is using real GPIO "
                          "pins. Run it with BERRYKIT_BOARD=sim to practise.")
    return k


def _name(part):
    if not isinstance(part, str):
        raise WrongType(f"give the part's name from the kit, like \"button\", got {part!r}")
    return part


def is_simulated():
    """True when scripts run on the simulated board (in this script, or berrykitd's)."""
    k = _kit.kit()
    return k.backend_kind == "sim" or getattr(k, "simulated", False)


def reset(clock="real", kit=None):
    """Starts a fresh simulated board (closing every part), with a ``"real"`` or ``"manual"`` clock."""
    _kit.use_board("sim", kit=kit, clock=clock)


def use_manual_clock(kit=None):
    """A fresh simulated board whose time stands still until :func:`advance` (for tests)."""
    reset("manual", kit)


def use_real_clock(kit=None):
    """A fresh simulated board whose time runs like a watch."""
    reset("real", kit)


def settle():
    """Waits until every callback for what has happened so far has run."""
    _kit.settle()


def press(part):
    """Presses a button (or sets off a motion sensor) and waits for its callbacks to run."""
    k = _sim_kit()
    k.press(_name(part))
    _kit.settle(k)


def release(part):
    """Lets go of a button (or calms a motion sensor) and waits for its callbacks to run."""
    k = _sim_kit()
    k.release(_name(part))
    _kit.settle(k)


def hold(part, seconds, after=0):
    """Presses a button and lets go ``seconds`` later (on the board's clock).

    With ``after``, the press comes that many seconds from now, from the board itself, as a
    real press does: handy for a teacher's demo ("the button will be pressed in 5 seconds").
    """
    k = _sim_kit()
    k.hold(_name(part), float(seconds), float(after))
    _kit.settle(k)


def trigger_motion(part="motion", seconds=2.0):
    """Makes the motion sensor see something for ``seconds``."""
    k = _sim_kit()
    k.trigger_motion(_name(part), float(seconds))
    _kit.settle(k)


def set_sensor(part, value=None, *, curve=None, repeat=False, **quantities):
    """Sets what a sensor measures.

    ``set_sensor("temperature", 25)``, ``set_sensor("light", 0.8)``, ``set_sensor("distance", 0.2)``,
    ``set_sensor("climate", temperature=30, humidity=70)``. With ``curve=[(0, 20), (60, 25)]`` the
    value follows straight lines between (seconds, value) points from now on (``repeat=True``
    starts it over at the end).
    """
    k = _sim_kit()
    part = _name(part)
    if value is None and curve is None and not quantities:
        raise WrongType(f"say what '{part}' should measure, like set_sensor({part!r}, 25)")
    if value is not None:
        quantities.setdefault("", value)
    for quantity, v in quantities.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise WrongType(f"a sensor value must be a number, got {v!r}")
        k.set_sensor(part, quantity, float(v))
    if curve is not None:
        quantity = ""
        if isinstance(curve, dict):
            for quantity, points in curve.items():
                k.set_sensor_curve(part, quantity, [(float(t), float(v)) for t, v in points], bool(repeat))
        else:
            k.set_sensor_curve(part, quantity, [(float(t), float(v)) for t, v in curve], bool(repeat))
    _kit.settle(k)


def set_sensor_fault(part, faulty=True):
    """Makes a temperature or climate sensor fail as an unplugged one does (or work again)."""
    _sim_kit().set_sensor_fault(_name(part), bool(faulty))


def history(part, line=None):
    """Every change of the part's pin as a list of (seconds, value); PWM shows brightness.

    ``line`` picks one pin of a part with several: ``history("rgb", "red")``.
    """
    return _sim_kit().history(part, line or "")


def clear_history(part, line=None):
    _sim_kit().clear_history(part, line or "")


def advance(seconds):
    """Moves a manual clock on by ``seconds``, running everything due, then waits for callbacks."""
    k = _sim_kit()
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise WrongType(f"advance() takes a number of seconds, got {seconds!r}")
    k.advance(float(seconds))
    _kit.settle(k)


def now():
    """Seconds since the board started, on its clock."""
    return _sim_kit().seconds()


def parts():
    """The kit's parts: a list of dicts with name, type, lines and label."""
    return _kit.kit().parts()
