"""Cloud functions: ``handler(event, context)`` for every reading and event of the classroom's Pis,
run here by the function runner or on AWS Lambda, from the same ``handler.py``.

    python3 -m berrykit.functions handler.py        # or: berrykit-functions handler.py

The runner subscribes to ``berrykit/+/readings/+`` and ``berrykit/+/events/+`` as a shared
subscription (several runners in one ``--group`` split the work), calls the handler with the
event an AWS IoT rule with :data:`RULE_SQL` hands to a Lambda function (the reading's JSON plus
``topic``) and a Lambda-like context, and publishes the command the handler returns to that Pi's
``berrykit/<device>/commands/<part>``::

    def handler(event, context):
        if event.get("sensor") == "temperature" and event["value"] > 25:
            return {"part": "red", "action": "on"}

A command is ``{"part": ..., "action": "on"|"off"|"toggle"|"set"|"blink", "value": ...}``
(``{"part": "red", "value": 1}`` means ``"set"``), a list of them, or ``None``; the Pi gets
``{"action": ..., "value": ..., "id": "<uuid>"}``. :func:`send_command` sends one from anywhere in
a handler. On Lambda, :func:`lambda_handler` runs the handler and publishes what it returns
through boto3 (Lambda itself throws a return value away). docs/cloud-functions.md has the rule,
the Lambda set-up and the Pi's certificates.

This module needs only the standard library (paho-mqtt for the runner, boto3 on Lambda), so a
Lambda deployment zip carries it alone (``--lambda-zip``).
"""
import argparse
import collections
import importlib
import importlib.util
import inspect
import json
import logging
import math
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import types
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["handler_event", "send_command", "lambda_handler", "LocalContext", "CommandError", "main",
           "RULE_SQL", "ACTIONS"]

#: The AWS IoT rule (SQL version 2016-03-23) whose Lambda action gets the same event as a handler
#: under the runner: the message's JSON with the topic it came on added as ``topic``.
RULE_SQL = ("SELECT *, topic() AS topic FROM 'berrykit/+/+/+' "
            "WHERE topic(3) = 'readings' OR topic(3) = 'events'")

#: What the runner subscribes to (each behind ``$share/<group>/``): the topics RULE_SQL matches.
TOPIC_FILTERS = ("berrykit/+/readings/+", "berrykit/+/events/+")

#: The actions a command may have.
ACTIONS = ("on", "off", "toggle", "set", "blink")

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
DEFAULT_GROUP = "berrykit-functions"
DEFAULT_TIMEOUT = 3.0       # seconds: a new Lambda function's default timeout
DEFAULT_MEMORY_MB = 128     # a new Lambda function's default memory

_PART_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")            # as in board files
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")             # as berrykitd's device_id
_BLINK_KEYS = {"on_time", "off_time", "n"}

log = logging.getLogger("berrykit.functions")


# ---- commands ----------------------------------------------------------------------------------
class CommandError(ValueError):
    """What a handler returned (or gave send_command) is not a command; the message says why."""


def _number(value, what):
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CommandError(f"{what} must be a number, got {value!r}")
    return value


def _check_value(action, value, part):
    """The command's value for its action, as it goes to the Pi (None: no value)."""
    if action in ("on", "off", "toggle"):
        if value is not None:
            raise CommandError(f"'{action}' takes no value (got {value!r}); to set {part} to a value "
                               f"use {{\"part\": \"{part}\", \"action\": \"set\", \"value\": ...}}")
        return None
    if action == "set":
        if value is None:
            raise CommandError(f"'set' needs a value: {{\"part\": \"{part}\", \"action\": \"set\", \"value\": 1}}")
        if isinstance(value, (list, tuple)):
            if not 1 <= len(value) <= 3:
                raise CommandError(f"a list value has 1 to 3 numbers (red, green, blue), got {len(value)}")
            return [_number(v, "each number of the value") for v in value]
        return _number(value, "the value of 'set'")
    # blink: no value, or how to blink
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CommandError(f"the value of 'blink' is an object like {{\"on_time\": 0.5, \"off_time\": 0.5, "
                           f"\"n\": 3}}, got {value!r}")
    unknown = sorted(set(value) - _BLINK_KEYS)
    if unknown:
        raise CommandError(f"'blink' knows on_time, off_time and n, not {', '.join(map(repr, unknown))}")
    out = {}
    for key in ("on_time", "off_time"):
        if key in value:
            seconds = _number(value[key], key)
            if seconds <= 0:
                raise CommandError(f"{key} must be more than 0 seconds, got {seconds!r}")
            out[key] = seconds
    if "n" in value:
        n = value["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise CommandError(f"n (how many blinks) must be a whole number of 1 or more, got {n!r}")
        out["n"] = n
    return out


def make_command(device, part, action=None, value=None):
    """Checks one command and returns ``(topic, payload)`` for the Pi. Raises CommandError."""
    if not isinstance(part, str) or not _PART_NAME.fullmatch(part):
        raise CommandError(f"'part' must name a part of the kit, like \"red\", got {part!r}")
    if not isinstance(device, str) or not _DEVICE_ID.fullmatch(device):
        raise CommandError(f"'device' must be a Pi's device id (letters, digits, - and _), got {device!r}")
    if action is None:
        if value is None:
            raise CommandError(f"there is no 'action' (one of {', '.join(ACTIONS)}) and no 'value'")
        action = "set"
    if action not in ACTIONS:
        raise CommandError(f"'action' must be one of {', '.join(ACTIONS)}, got {action!r}")
    payload = {"action": action}
    checked = _check_value(action, value, part)
    if checked is not None:
        payload["value"] = checked
    payload["id"] = str(uuid.uuid4())
    return f"berrykit/{device}/commands/{part}", payload


def commands_from(returned, device):
    """The ``(topic, payload)`` list for what a handler returned; ``device`` is where the event came
    from, the default for a command with no ``"device"``. Raises CommandError naming what is wrong."""
    if returned is None:
        return []
    items = list(returned) if isinstance(returned, (list, tuple)) else [returned]
    commands = []
    for index, item in enumerate(items):
        where = f"item {index} of the list: " if isinstance(returned, (list, tuple)) else ""
        if not isinstance(item, dict):
            raise CommandError(f"{where}a command is a dict like {{\"part\": \"red\", \"action\": \"on\"}} "
                               f"(or a list of them, or None), got {type(item).__name__} {item!r}")
        unknown = sorted(set(item) - {"part", "action", "value", "device"})
        if unknown:
            raise CommandError(f"{where}a command has part, action, value and device, not "
                               f"{', '.join(map(repr, unknown))} (in {item!r})")
        if "part" not in item:
            raise CommandError(f"{where}the command has no 'part' (which LED or buzzer?): {item!r}")
        try:
            commands.append(make_command(item.get("device", device), item["part"], item.get("action"),
                                         item.get("value")))
        except CommandError as e:
            raise CommandError(f"{where}{e} (in {item!r})") from None
    return commands


def describe_command(topic, payload, source_device=None):
    """``turn on red``, ``set rgb to [1, 0, 0]``, ``blink buzzer on other-pi``."""
    _, device, _, part = topic.split("/")
    action = payload["action"]
    text = {"on": f"turn on {part}", "off": f"turn off {part}", "toggle": f"toggle {part}",
            "set": f"set {part} to {payload.get('value')}", "blink": f"blink {part}"}[action]
    return text if device == source_device else f"{text} on {device}"


def describe_event(event):
    """``temperature on classroom-pi = 21.5 °C``, ``button on classroom-pi: pressed``."""
    parts = str(event.get("topic", "")).split("/")
    kind, name = (parts[2], parts[3]) if len(parts) == 4 else ("", event.get("sensor") or event.get("part"))
    device = parts[1] if len(parts) == 4 else event.get("device")
    if "error" in event and "value" not in event:
        return f"{name} on {device}: error ({event['error']})"
    if kind == "events":
        return f"{name} on {device}: {event.get('value')}"
    unit = event.get("unit")
    return f"{name} on {device} = {event.get('value')}" + (f" {unit}" if unit else "")


def _device_of(event):
    parts = str(event.get("topic", "")).split("/")
    return parts[1] if len(parts) == 4 and parts[0] == "berrykit" else event.get("device")


# ---- where commands go: the runner's client, or AWS IoT through boto3 --------------------------
_local_publish = None   # set by the runner: publish(topic, payload dict)
_iot_data = None        # boto3's iot-data client, made on first use on Lambda
_lambda_handler_fn = None


def _aws_publish(topic, payload):
    global _iot_data
    if _iot_data is None:
        try:
            import boto3
        except ImportError:
            raise RuntimeError(
                "send_command() works in a handler run by the berrykit function runner "
                "(python3 -m berrykit.functions handler.py) or on AWS Lambda (which has boto3); "
                "this Python has neither") from None
        endpoint = os.environ.get("BERRYKIT_IOT_ENDPOINT", "")
        if endpoint:
            url = endpoint if endpoint.startswith("https://") else "https://" + endpoint
            _iot_data = boto3.client("iot-data", endpoint_url=url)
        else:
            print("berrykit: BERRYKIT_IOT_ENDPOINT is not set, so boto3's default iot-data endpoint is used; "
                  "AWS recommends your account's own (aws iot describe-endpoint --endpoint-type iot:Data-ATS)",
                  file=sys.stderr, flush=True)
            _iot_data = boto3.client("iot-data")
    _iot_data.publish(topic=topic, qos=1, payload=json.dumps(payload).encode())


def _publish(topic, payload):
    (_local_publish or _aws_publish)(topic, payload)


def send_command(device, part, action, value=None):
    """Sends a command to a Pi now, from anywhere in a handler; returns the command's id.

    ``send_command(event["device"], "red", "on")``, ``send_command("pi2", "rgb", "set", [1, 0, 0])``,
    ``send_command(event["device"], "buzzer", "blink", {"on_time": 0.2, "off_time": 0.2, "n": 3})``.
    Under the function runner it goes through the runner's broker connection; on AWS Lambda through
    boto3's iot-data ``publish`` (to BERRYKIT_IOT_ENDPOINT). A wrong command raises CommandError.
    """
    topic, payload = make_command(device, part, action, value)
    _publish(topic, payload)
    log.info("sent: %s", describe_command(topic, payload))
    return payload["id"]


def handler_event(topic, payload):
    """The event a handler gets for a message: what :data:`RULE_SQL` hands a Lambda function."""
    event = dict(payload)
    event["topic"] = topic
    return event


# ---- the context -------------------------------------------------------------------------------
class LocalContext:
    """What a Lambda function's ``context`` has, with values for the runner on this computer.

    ``function_name`` (``berrykit-<handler file name>``), ``function_version`` (``$LATEST``),
    ``invoked_function_arn``, ``memory_limit_in_mb`` (``"128"``, a string as on Lambda),
    ``aws_request_id`` (a new uuid per event), ``log_group_name`` (``/aws/lambda/<name>``),
    ``log_stream_name``, ``identity`` and ``client_context`` (empty for IoT events), and
    ``get_remaining_time_in_millis()`` counting down from ``--timeout``. The runner does not stop a
    handler that runs over its time; it says that Lambda would have.
    """

    def __init__(self, function_name, timeout=DEFAULT_TIMEOUT, memory_mb=DEFAULT_MEMORY_MB, stream=None):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.memory_limit_in_mb = str(memory_mb)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = stream or f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = types.SimpleNamespace(cognito_identity_id=None, cognito_identity_pool_id=None)
        self.client_context = None
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# ---- running a handler once ---------------------------------------------------------------------
def _traceback_of_handler(error):
    """The traceback of the handler's own code: the runner's and importlib's frames say nothing
    a handler's author can use."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith("<frozen") and Path(f.filename).resolve() != Path(__file__).resolve()]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames) if frames else []
    return "".join(lines + traceback.format_exception_only(type(error), error)).rstrip()


def invoke(handler, label, event, context, *, reraise=False):
    """Calls ``handler(event, context)``, publishes the commands it returns and writes one line
    about it. An exception is logged with its traceback (and raised again when ``reraise``); a bad
    return value is logged with what is wrong and sends nothing. Returns the commands sent."""
    what = describe_event(event)
    seq = f", seq {event['seq']}" if "seq" in event else ""
    started = time.monotonic()
    try:
        returned = handler(event, context)
    except (Exception, SystemExit) as e:
        log.error("%s raised an error for %s (topic %s%s); nothing was sent, carrying on:\n%s",
                  label, what, event.get("topic"), seq, _traceback_of_handler(e))
        if reraise:
            raise
        return []
    took = time.monotonic() - started
    timeout = getattr(context, "timeout", None)   # LocalContext's; Lambda stops a late handler itself
    if timeout is not None and took > timeout:
        log.warning("%s took %.1f s for %s; on Lambda, with a %g s timeout, it would have been stopped",
                    label, took, what, timeout)
    device = _device_of(event)
    try:
        commands = commands_from(returned, device)
    except CommandError as e:
        log.error("%s returned something that is not a command, for %s (topic %s%s): %s. Nothing was sent. "
                  "Return {\"part\": \"red\", \"action\": \"on\"}, a list of those, or None.",
                  label, what, event.get("topic"), seq, e)
        return []
    for topic, payload in commands:
        _publish(topic, payload)
    if commands:
        log.info("%s → handler returned: %s", what,
                 ", ".join(describe_command(t, p, device) for t, p in commands))
    else:
        log.info("%s → handler returned nothing", what)
    return commands


# ---- on AWS Lambda ------------------------------------------------------------------------------
def lambda_handler(event, context):
    """The Lambda function's handler (``berrykit.functions.lambda_handler``): runs the handler named
    by BERRYKIT_HANDLER (``module.function``, default ``handler.handler``) and publishes the
    commands it returns, as the runner does. A handler's exception is raised again, so Lambda
    counts the error (and retries, unless its retries are set to 0)."""
    global _lambda_handler_fn
    if _lambda_handler_fn is None:
        name = os.environ.get("BERRYKIT_HANDLER", "handler.handler")
        module_name, _, function_name = name.rpartition(".")
        if not module_name:
            raise RuntimeError(f"BERRYKIT_HANDLER is {name!r}: it must be file.function, like handler.handler")
        _lambda_handler_fn = getattr(importlib.import_module(module_name), function_name)
    if not log.handlers and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.setLevel(logging.INFO)
    sent = invoke(_lambda_handler_fn, os.environ.get("BERRYKIT_HANDLER", "handler.handler"), event, context,
                  reraise=True)
    return {"sent": [{"topic": t, "payload": p} for t, p in sent]}


def write_lambda_zip(handler_path, out_path):
    """A deployment zip: the handler file, this module and an empty ``berrykit`` package around it
    (the kit's compiled parts are not needed, nor would they load on Lambda)."""
    init = ('"""berrykit on AWS Lambda: only berrykit.functions (made by python3 -m berrykit.functions '
            '--lambda-zip)."""\n')
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(handler_path, Path(handler_path).name)
        z.writestr("berrykit/__init__.py", init)
        z.write(Path(__file__).resolve(), "berrykit/functions.py")


# ---- the runner ---------------------------------------------------------------------------------
class StartError(Exception):
    """The runner cannot start; the message says why and what to do."""


def load_handler(path, name="handler"):
    """The ``name`` function of the Python file at ``path``, loaded as Lambda loads it (its folder
    first on sys.path, so it can import files next to it)."""
    path = Path(path)
    if not path.exists():
        raise StartError(f"there is no file {path}: give the path of your handler file, "
                         "e.g. berrykit-functions lessons/functions/handler.py")
    if not path.is_file():
        raise StartError(f"{path} is a folder, not a Python file with a handler function in it")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:
        raise StartError(f"{path} could not be loaded, so no handler runs:\n{_traceback_of_handler(e)}") from None
    function = getattr(module, name, None)
    if function is None:
        functions = sorted(n for n, v in vars(module).items()
                           if inspect.isfunction(v) and v.__module__ == module.__name__)
        has = f" (it has: {', '.join(functions)})" if functions else ""
        raise StartError(f"{path} has no function called '{name}'{has}. Write one:\n"
                         f"    def {name}(event, context):\n        ...\n"
                         "or name yours with --handler-name")
    if not callable(function):
        raise StartError(f"{path}: '{name}' is a {type(function).__name__}, not a function")
    try:
        inspect.signature(function).bind(None, None)
    except TypeError:
        raise StartError(f"{path}: {name}{inspect.signature(function)} must take two arguments, "
                         f"like def {name}(event, context):") from None
    except ValueError:
        pass  # a builtin with no signature: let it be tried
    return function


class SeenSeqs:
    """The sequence numbers handled lately, per Pi, so a QoS 1 duplicate is handled once: the last
    ``per_device`` numbers of each of the last ``devices`` Pis that sent something."""

    def __init__(self, per_device=1000, devices=256):
        self.per_device = per_device
        self.devices = devices
        self._seen = collections.OrderedDict()   # device -> (set of seqs, deque in arrival order)

    def first_time(self, device, seq):
        if isinstance(seq, bool) or not isinstance(seq, int):
            return True   # no seq, nothing to go by
        entry = self._seen.get(device)
        if entry is None:
            entry = self._seen[device] = (set(), collections.deque())
            if len(self._seen) > self.devices:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(device)
        seqs, order = entry
        if seq in seqs:
            return False
        seqs.add(seq)
        order.append(seq)
        if len(order) > self.per_device:
            seqs.discard(order.popleft())
        return True


def parse_broker(url):
    """``(scheme, host, port)`` of an ``mqtt://host:port`` or ``mqtts://host:port`` address."""
    parts = urlsplit(url if "://" in url else "mqtt://" + url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"the broker address {url!r} must start with mqtt:// or mqtts://")
    if parts.username or parts.password:
        raise ValueError("put the user name in --username and the password in a file for --password-file, "
                         "not in the broker address (it would show in logs)")
    if not parts.hostname:
        raise ValueError(f"the broker address {url!r} has no host: mqtt://127.0.0.1:1883")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ValueError(f"the port in {url!r} is not a number from 1 to 65535") from None
    if parts.path not in ("", "/"):
        raise ValueError(f"the broker address {url!r} has a path; write mqtt://host:port")
    return parts.scheme, parts.hostname, port


_CONNACK_WORDS = {
    1: "it does not speak this MQTT version",
    2: "it refused this client id",
    3: "it is not taking clients now",
    4: "it refused the user name or password: check --username and --password-file",
    5: "it says this client is not allowed: check --username and --password-file, or the broker's ACL",
}


class Runner:
    """One connection to the broker; each message it gets is handed to the handler in paho's network
    thread, one at a time, and acknowledged (PUBACK) only when the handler has returned."""

    def __init__(self, handler, label, args):
        try:
            import paho.mqtt.client as mqtt  # only the runner needs paho; Lambda does not have it
        except ImportError:
            raise StartError("the function runner needs paho-mqtt: sudo apt install python3-paho-mqtt "
                             "(scripts/install-deps.sh installs it)") from None

        self.mqtt = mqtt
        self.handler = handler
        self.label = label
        self.args = args
        self.scheme, self.host, self.port = parse_broker(args.broker)
        self.address = f"{self.scheme}://{self.host}:{self.port}"
        self.function_name = f"berrykit-{Path(args.handler_file).stem}"
        self.stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.seen = SeenSeqs()
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.unsubscribed = threading.Event()
        self.failure = None
        self.connections = 0
        self.topics = [f"$share/{args.group}/{t}" for t in TOPIC_FILTERS]
        self.client = mqtt.Client(client_id=f"berrykit-functions-{socket.gethostname()}-{os.getpid()}"[:64],
                                  clean_session=True, protocol=mqtt.MQTTv311)
        self.client.reconnect_delay_set(min_delay=1, max_delay=8)
        if args.username:
            self.client.username_pw_set(args.username, self._password())
        if self.scheme == "mqtts":
            for option in ("cafile", "cert", "key"):
                value = getattr(args, option)
                if value and not Path(value).is_file():
                    raise StartError(f"the --{option} file {value} does not exist")
            if args.cert and not args.key:
                raise StartError("--cert needs --key (the client certificate's private key)")
            self.client.tls_set(ca_certs=args.cafile, certfile=args.cert, keyfile=args.key)
        elif args.cafile or args.cert or args.key:
            raise StartError(f"--cafile, --cert and --key are for TLS: use an mqtts:// broker address, "
                             f"not {self.address}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_unsubscribe = lambda client, userdata, mid: self.unsubscribed.set()

    def _password(self):
        if not self.args.password_file:
            return None
        try:
            lines = Path(self.args.password_file).read_text().splitlines()
        except OSError as e:
            raise StartError(f"cannot read --password-file {self.args.password_file}: {e.strerror}") from None
        return lines[0] if lines else ""

    # -- paho's callbacks (its network thread) --
    def _on_connect(self, client, userdata, flags, rc):
        if rc != 0:
            words = _CONNACK_WORDS.get(rc, f"it answered with code {rc}")
            if not self.ready.is_set():
                self.failure = f"the MQTT broker at {self.address} refused the connection: {words}"
                self.ready.set()
            else:
                log.error("the MQTT broker at %s refused to connect again: %s; trying again", self.address, words)
            return
        client.subscribe([(t, 1) for t in self.topics])

    def _on_subscribe(self, client, userdata, mid, granted_qos):
        refused = [t for t, q in zip(self.topics, granted_qos) if q == 0x80]
        if refused:
            message = (f"the MQTT broker at {self.address} refused the subscription to {', '.join(refused)}: "
                       "check the broker's ACL for this user")
            if not self.ready.is_set():
                self.failure = message
                self.ready.set()
            else:
                log.error("%s", message)
            return
        self.connections += 1
        if self.connections == 1:
            log.info("connected to %s: handing every reading and event (%s) to %s, shared with any other "
                     "runner in group '%s'. Ctrl+C stops.", self.address, ", ".join(TOPIC_FILTERS), self.label,
                     self.args.group)
            self.ready.set()
        else:
            log.info("connected again to %s", self.address)

    def _on_disconnect(self, client, userdata, rc):
        if self.stopping.is_set():
            # The broker has gone while we stop (a killed `berrykit sim` stops both at once): the
            # unsubscribe will never be answered, and nothing more can come. Stop waiting for it.
            self.unsubscribed.set()
        elif rc != 0:
            log.warning("lost the connection to the MQTT broker at %s; trying again every few seconds",
                        self.address)

    def _on_message(self, client, userdata, message):
        try:
            self._handle(message)
        except Exception:   # paho would re-raise it and end its network thread: never let one out
            log.exception("the function runner failed on a message on %r; carrying on", message.topic)

    def _handle(self, message):
        try:
            topic = message.topic
        except UnicodeDecodeError:
            log.warning("a message came on a topic that is not UTF-8; skipped")
            return
        parts = topic.split("/")
        if len(parts) != 4 or parts[0] != "berrykit" or parts[2] not in ("readings", "events"):
            log.debug("a message on %s, which is not a reading or an event; skipped", topic)
            return
        try:
            payload = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError):
            log.warning("the message on %s is not JSON (%r); skipped", topic, bytes(message.payload[:60]))
            return
        if not isinstance(payload, dict):
            log.warning("the message on %s is not a JSON object (%r); skipped", topic, payload)
            return
        device = parts[1]
        if not self.seen.first_time(device, payload.get("seq")):
            log.debug("dropped a duplicate: seq %s from %s (%s) was handled already", payload["seq"], device, topic)
            return
        context = LocalContext(self.function_name, self.args.timeout, stream=self.stream)
        invoke(self.handler, self.label, handler_event(topic, payload), context)

    def publish(self, topic, payload):
        info = self.client.publish(topic, json.dumps(payload), qos=1)
        if info.rc == self.mqtt.MQTT_ERR_NO_CONN:
            log.warning("not connected to the broker: %s goes to %s when the connection is back", payload, topic)
        elif info.rc != self.mqtt.MQTT_ERR_SUCCESS:
            log.error("could not send %s to %s: %s", payload, topic, self.mqtt.error_string(info.rc))
        else:
            log.debug("published %s to %s", json.dumps(payload), topic)

    # -- the main thread --
    def connect(self):
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except ConnectionRefusedError:
            raise StartError(self._unreachable("nothing is listening there: connection refused")) from None
        except socket.gaierror as e:
            raise StartError(f"could not reach the MQTT broker at {self.host}:{self.port}: the name '{self.host}' "
                             f"is not known ({e.strerror}). Check the address in --broker (or "
                             "BERRYKIT_MQTT_URL), e.g. --broker mqtt://192.168.1.20:1883") from None
        except ssl.SSLError as e:
            raise StartError(f"the TLS handshake with the MQTT broker at {self.address} failed "
                             f"({e.reason or e}): check --cafile (the CA that signed the broker's certificate), "
                             "--cert and --key") from None
        except (socket.timeout, TimeoutError):
            raise StartError(self._unreachable("no answer in 5 seconds")) from None
        except OSError as e:
            raise StartError(self._unreachable(e.strerror or str(e))) from None
        self.client.loop_start()
        if not self.ready.wait(15):
            raise StartError(f"the MQTT broker at {self.address} took the connection but did not answer "
                             "in 15 seconds")
        if self.failure:
            raise StartError(self.failure)

    def _unreachable(self, why):
        return (f"could not reach the MQTT broker at {self.host}:{self.port} ({why}). Is mosquitto running? "
                "Start it with 'sudo systemctl start mosquitto', or give the broker's address with --broker "
                "(or BERRYKIT_MQTT_URL), e.g. --broker mqtt://192.168.1.20:1883")

    def stop(self):
        """Unsubscribes, so new readings go to the group's other runners; the broker's answer comes
        after every message it sent before, and each of those has been handled (in paho's thread)
        by the time the answer is read, its commands queued. Then disconnects, which sends them."""
        self.stopping.set()
        rc, _ = self.client.unsubscribe(self.topics)
        if rc == self.mqtt.MQTT_ERR_SUCCESS and not self.unsubscribed.wait(30):
            log.warning("the broker did not answer the unsubscribe in 30 s; disconnecting anyway")
        self.client.disconnect()
        self.client.loop_stop()


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="berrykit-functions",
        description="Runs handler(event, context) from a Python file for every reading and event the "
                    "classroom's Pis send over MQTT, as AWS Lambda would, and sends the commands it returns "
                    "back to the Pi. More: docs/cloud-functions.md",
        epilog="Exit status: 0 when stopped by Ctrl+C or SIGTERM, 1 when it cannot start (the message says "
               "why), 2 for a wrong command line.")
    parser.add_argument("handler_file", metavar="handler.py", help="the Python file with the handler function")
    parser.add_argument("--broker", default=None, metavar="URL",
                        help=f"the MQTT broker: mqtt://host:port or mqtts://host:port (TLS). Default: "
                             f"$BERRYKIT_MQTT_URL, else {DEFAULT_BROKER}")
    parser.add_argument("--cafile", help="mqtts: the CA certificate that signed the broker's (default: the "
                                         "system's CAs)")
    parser.add_argument("--cert", help="mqtts: this client's certificate, for brokers that ask for one")
    parser.add_argument("--key", help="mqtts: the private key of --cert")
    parser.add_argument("--username", help="the user name, for brokers that ask for one")
    parser.add_argument("--password-file", metavar="FILE",
                        help="a file whose first line is the password (never on the command line)")
    parser.add_argument("--group", default=DEFAULT_GROUP,
                        help=f"the shared-subscription group: runners in one group split the readings, each "
                             f"handled once (default: {DEFAULT_GROUP})")
    parser.add_argument("--handler-name", default="handler", metavar="NAME",
                        help="the function to call (default: handler)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"what context.get_remaining_time_in_millis() counts down from, as the Lambda "
                             f"function's timeout (default: {DEFAULT_TIMEOUT:g}); a handler that runs longer is "
                             "reported, not stopped")
    parser.add_argument("--lambda-zip", metavar="OUT.zip",
                        help="write an AWS Lambda deployment zip with the handler file and berrykit.functions, "
                             "then exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="also say what is skipped and published")
    args = parser.parse_args(argv)
    args.broker = args.broker or os.environ.get("BERRYKIT_MQTT_URL") or DEFAULT_BROKER
    try:
        parse_broker(args.broker)
    except ValueError as e:
        parser.error(f"--broker: {e}")
    if not re.fullmatch(r"[^/+#$\s]+", args.group):
        parser.error(f"--group: {args.group!r} may not have /, +, #, $ or spaces in it")
    if not args.handler_name.isidentifier():
        parser.error(f"--handler-name: {args.handler_name!r} is not a Python function name")
    if not 0 < args.timeout <= 900:
        parser.error("--timeout: Lambda allows more than 0 and at most 900 seconds")
    if args.password_file and not args.username:
        parser.error("--password-file needs --username")
    return args


class _Formatter(logging.Formatter):
    """``10:15:30 message``, with ``error:`` or ``warning:`` before the message when it is one."""

    def format(self, record):
        record.prefix = {logging.ERROR: "error: ", logging.WARNING: "warning: "}.get(record.levelno, "")
        return super().format(record)


def main(argv=None):
    """``berrykit-functions``: see ``--help``. Returns the exit status."""
    global _local_publish
    args = _parse_args(argv)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True, errors="backslashreplace")
    output = logging.StreamHandler(sys.stderr)
    output.setFormatter(_Formatter("%(asctime)s %(prefix)s%(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(output)
    root.setLevel(logging.INFO)
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    label = f"{Path(args.handler_file).name}'s {args.handler_name}()"

    try:
        handler = load_handler(args.handler_file, args.handler_name)
        if args.lambda_zip:
            write_lambda_zip(args.handler_file, args.lambda_zip)
            module = Path(args.handler_file).stem
            print(f"wrote {args.lambda_zip}: {Path(args.handler_file).name}, berrykit/functions.py. On Lambda set "
                  f"the handler to berrykit.functions.lambda_handler and BERRYKIT_HANDLER={module}."
                  f"{args.handler_name} (docs/cloud-functions.md)")
            return 0
        runner = Runner(handler, label, args)
        _local_publish = runner.publish
        stop_requested = threading.Event()

        def request_stop(signum, frame):
            if stop_requested.is_set():   # a second Ctrl+C: a handler is stuck, do not wait for it
                os._exit(1)
            stop_requested.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        runner.connect()
    except StartError as e:
        log.error("%s", e)
        return 1
    except OSError as e:   # writing the zip
        log.error("%s", e)
        return 1

    stop_requested.wait()
    log.info("stopping: letting a running handler finish, then disconnecting")
    runner.stop()
    _local_publish = None
    log.info("stopped")
    return 0


if __name__ == "__main__":
    # Run the copy of this module that handlers import (berrykit.functions, not __main__), so
    # send_command() in a handler finds this runner's connection.
    from berrykit.functions import main as _main
    sys.exit(_main())
