"""berrykit's exceptions.

Every exception is a :class:`BerrykitError` and also the builtin a beginner would try to
catch: a bad value is a ``ValueError``, an unknown part a ``LookupError``, and so on::

    try:
        led.value = 5
    except ValueError as e:
        print(e)   # the brightness of the LED 'red' must be between 0 and 1, got 5
"""


class BerrykitError(Exception):
    """Something went wrong with the kit. The message says what, and what to do."""


class PartNotFound(BerrykitError, LookupError):
    """There is no part (or pin) by that name or number."""

    def __str__(self):  # LookupError's KeyError-style quoting would hide the message
        return Exception.__str__(self)


class PartInUse(BerrykitError, RuntimeError):
    """The part's pin is already used by another part or another program."""


class BadValue(BerrykitError, ValueError):
    """A value out of range: a brightness of 2, a negative time."""


class WrongType(BerrykitError, TypeError):
    """A value of the wrong kind ("on" where a number goes), or a part of another type."""


class DeviceClosed(BerrykitError, RuntimeError):
    """The part was closed and then used again."""


class SensorError(BerrykitError, OSError):
    """A sensor is missing, unplugged or gave no answer."""


class BoardError(BerrykitError, ValueError):
    """A board definition file is wrong."""


class GPIOError(BerrykitError, OSError):
    """The GPIO hardware or the kernel refused what we asked."""


class Unsupported(BerrykitError, RuntimeError):
    """This board or this build cannot do that."""


class FallbackWarning(UserWarning):
    """berrykit chose the simulated board because there are no real GPIO pins here."""


_BY_CODE = {
    "unknown_part": PartNotFound,
    "part_in_use": PartInUse,
    "bad_value": BadValue,
    "wrong_type": WrongType,
    "closed": DeviceClosed,
    "sensor": SensorError,
    "board": BoardError,
    "gpio": GPIOError,
    "unsupported": Unsupported,
}


def error_class(code: str) -> type:
    """The exception class for an error code of the C++ core (used by berrykit._core)."""
    return _BY_CODE.get(code, BerrykitError)


__all__ = [name for name, value in globals().items()
           if isinstance(value, type) and issubclass(value, (BerrykitError, Warning))]
