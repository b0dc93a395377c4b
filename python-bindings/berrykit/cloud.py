"""Send your own values to the cloud, through berrykitd.

    from berrykit import cloud
    cloud.send("score", 42)                  # goes to berrykit/<this Pi>/readings/score
    cloud.send("temperature_guess", 19.5, unit="°C")

berrykitd stores each value on its disk before ``send`` returns, and sends it to the MQTT broker
as soon as it can, so nothing is lost when the Wi-Fi drops. The cloud function (``handler.py``)
gets it like any sensor reading: ``event["sensor"]`` is the name, ``event["value"]`` the value.
"""
import math
import re

from . import _kit
from ._remote import RemoteKit
from .exc import BadValue, Unsupported

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def send(name, value, unit=None):
    """Sends ``value`` (a number, True/False or a short text) to the cloud under ``name``.

    Returns the reading's sequence number (``seq``), which the cloud sees too.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadValue(f"cloud.send needs a name of 1 to 64 letters, digits, - and _ (like \"score\"), got {name!r}")
    if isinstance(value, bool) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        if isinstance(value, float) and not math.isfinite(value):
            raise BadValue(f"cloud.send('{name}', ...) needs a real number, got {value!r}")
    elif isinstance(value, str):
        if len(value) > 1024:
            raise BadValue(f"cloud.send('{name}', ...): the text is too long (at most 1024 characters)")
    else:
        raise BadValue(f"cloud.send('{name}', ...) sends a number, True/False or a short text, "
                       f"got {type(value).__name__} {value!r}")
    if unit is not None and not isinstance(unit, str):
        raise BadValue(f"cloud.send('{name}', ..., unit=...) needs the unit as text, like \"°C\", got {unit!r}")
    k = _kit.kit()
    if not isinstance(k, RemoteKit):
        raise Unsupported("cloud.send goes through berrykitd, and this script runs the board itself "
                          "(BERRYKIT_BOARD is set): start the classroom with scripts/demo.sh, or berrykitd, "
                          "and run the script without BERRYKIT_BOARD")
    fields = {"name": name, "value": value}
    if unit is not None:
        fields["unit"] = unit
    return k.request("cloud_send", **fields)["seq"]
