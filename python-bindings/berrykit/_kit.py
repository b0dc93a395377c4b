"""The kit a script uses: chosen once, on first use, and the thread that runs callbacks.

Backend choice, as gpiozero does it: an explicit :func:`use_board`, then the ``BERRYKIT_BOARD``
environment variable (``sim``, ``gpiod`` or ``auto``), then ``auto``: berrykitd when its socket
exists (``BERRYKIT_SOCKET``, or /run/berrykit/berrykit.sock), else real GPIO in this process where
this machine has a GPIO chip, else an error that says how to start the daemon or the simulated
board. ``BERRYKIT_KIT`` names the
board definition (``classroom`` by default, or a path to a ``.json`` file) and
``BERRYKIT_CLOCK=manual`` stops the simulated board's clock until ``berrykit.sim.advance()``.
"""
import atexit
import os
import sys
import threading
import traceback
import warnings
import weakref
from pathlib import Path

from . import _core
from ._remote import RemoteKit, socket_path
from .exc import BadValue, FallbackWarning, Unsupported

_lock = threading.RLock()
_kit = None
_dispatcher = None
_devices = weakref.WeakValueDictionary()  # device id -> the Python object the kid holds

BOARDS_DIR = Path(__file__).resolve().parent / "boards"


def board_dirs():
    dirs = [BOARDS_DIR, Path("/etc/berrykit/boards"), Path("/usr/local/share/berrykit/boards"),
            Path("/usr/share/berrykit/boards")]
    return [d for d in dirs if d.is_dir()]


def use_board(backend=None, *, kit=None, clock=None, sysfs_root=None, dev_root=None):
    """Starts (or starts again) the kit every part uses from now on.

    ``backend`` is ``"sim"``, ``"gpiod"`` or ``"auto"``; ``kit`` a board name or file;
    ``clock`` is ``"real"`` or ``"manual"`` (simulated board only). Parts opened before are
    closed.
    """
    global _kit, _dispatcher
    backend = backend or os.environ.get("BERRYKIT_BOARD", "auto")
    kit_name = kit or os.environ.get("BERRYKIT_KIT", "classroom")
    clock = clock or os.environ.get("BERRYKIT_CLOCK", "real")
    if backend not in ("sim", "gpiod", "auto"):
        raise BadValue(f"BERRYKIT_BOARD is {backend!r}: use 'sim' (the simulated board), "
                       "'gpiod' (real GPIO pins) or 'auto'")
    if clock not in ("real", "manual"):
        raise BadValue(f"the clock is {clock!r}: use 'real' or 'manual'")
    with _lock:
        close_board()
        if backend == "auto" and os.path.exists(socket_path()):
            new_kit = RemoteKit()
        elif backend == "auto" and not _core.gpio_chips_present(dev_root or "/dev"):
            raise Unsupported(
                "berrykit found no berrykitd (no " + socket_path() + ") and no GPIO pins on this computer. "
                "On a Raspberry Pi, start the daemon: sudo systemctl start berrykitd. "
                "To practise without a Pi, use the simulated board: BERRYKIT_BOARD=sim python3 your_script.py")
        else:
            new_kit = _core.Kit.open(backend=backend, board=kit_name, board_dirs=board_dirs(),
                                     manual_clock=(clock == "manual"),
                                     dev_root=dev_root or "/dev", sysfs_root=sysfs_root or "/sys")
            if backend == "auto" and new_kit.backend_kind == "sim":
                warnings.warn(f"berrykit: {new_kit.backend_reason}. "
                              "(Set BERRYKIT_BOARD=sim to hide this message.)", FallbackWarning, stacklevel=3)
        _kit = new_kit
        _dispatcher = _Dispatcher(new_kit)
        _dispatcher.start()
        return new_kit


def kit():
    """The kit in use, started on first use."""
    k = _kit
    if k is None or k.closed:
        with _lock:
            if _kit is None or _kit.closed:
                use_board()
            k = _kit
    return k


def close_board():
    """Closes every part and stops the kit (also run when the script ends)."""
    global _kit, _dispatcher
    with _lock:
        k, d = _kit, _dispatcher
        _kit = _dispatcher = None
    if k is not None:
        k.close()
    if d is not None and d is not threading.current_thread():
        d.join(timeout=5)


atexit.register(close_board)


def register(device_id, device):
    _devices[device_id] = device


def settle(k=None):
    """Waits until every event the kit has queued so far has been handed to its callbacks.

    The simulated board's controls call this, so after ``sim.press("button")`` the button's
    ``when_pressed`` has already run. Inside a callback it returns at once (the callback *is*
    the dispatcher).
    """
    d = _dispatcher
    k = k or _kit
    if d is None or k is None or threading.current_thread() is d:
        return
    d.wait_for(k.events_pushed())


class _Dispatcher(threading.Thread):
    """Runs the kid's callbacks on a Python thread, one at a time, in the order events happened.

    Events come from C++ through a queue; this thread waits on it with the GIL released. C++
    never calls Python, so a slow callback cannot stall the board, and the board cannot
    deadlock against the GIL.
    """

    def __init__(self, k):
        super().__init__(name="berrykit-callbacks", daemon=True)
        self._kit = k
        self._handled = 0
        self._cond = threading.Condition()

    def run(self):
        k = self._kit
        dropped_seen = 0
        while True:
            event = k.next_event(None)
            if event is None:
                break
            device_id, kind, when = event
            device = _devices.get(device_id)
            if device is not None:
                try:
                    device._dispatch(kind, when)
                except Exception:  # a broken callback must not stop the others
                    print(f"berrykit: the callback for {kind} on {device!r} failed:", file=sys.stderr)
                    traceback.print_exc()
            with self._cond:
                self._handled += 1
                self._cond.notify_all()
            dropped = k.events_dropped()
            if dropped != dropped_seen:  # only when callbacks fell 100,000 events behind
                print(f"berrykit: callbacks are too slow: {dropped - dropped_seen} events were skipped. "
                      "Make your when_... functions quicker (no long sleep() in them).", file=sys.stderr)
                dropped_seen = dropped
        with self._cond:
            self._handled = float("inf")
            self._cond.notify_all()

    def wait_for(self, count, timeout=10.0):
        with self._cond:
            self._cond.wait_for(lambda: self._handled + self._kit.events_dropped() >= count, timeout)
