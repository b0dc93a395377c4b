"""berrykitd's cloud bridge end to end, each figure printed (issue 4's goals in brackets):

  1. sustained readings/s forwarded at QoS 1 through the durable outbox (cloud_send from several
     pipelined connections until a subscriber has every seq), against `mosquitto_pub -l -q 1` fed
     the same number of lines of the same size, to the same broker, in the same run
     [at least half mosquitto_pub's rate]; with mqtt.inflight 100 (the default) and 1000
  2. cloud_send -> subscriber latency at 100 readings/s, median, p99 and max, with the default
     outbox.batch_window (10 ms) and with 0   [p99 under 20 ms]
  3. outbox bytes on disk per queued reading, the broker away
  4. a broker outage while readings flow (the classroom board's four sampled sensors every 0.1 s
     and cloud_send at 100/s): readings queued, and the time to drain them after it returns

Everything runs on this machine: mosquitto on a free 127.0.0.1 port (durable, as the tests'
broker in tests/integration/broker.py: sessions kept across a restart, no queue limits),
berrykitd on the simulated board with its outbox in FOLDER (the file system is printed), and a
paho-python subscriber in a process of its own (QoS 1, fixed client id, clean_session=False) that
notes when each seq arrives. The bench stops every process it starts.

    /usr/bin/python3 bench/bench_cloud.py [--berrykitd PATH] [--dir FOLDER] [--readings N]
                                          [--outage SECONDS] [--figures 1234] [--quick]
"""
import argparse
import json
import os
import re
import resource
import select
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
from bench_daemon import line_reader, percentile  # noqa: E402
# The integration tests' durable broker (sessions and queues kept across a restart, no queue
# limits, a port outside the ephemeral range so it gets it back after the outage).
from broker import Broker, free_port  # noqa: E402

DEVICE = "bench-pi"
REFERENCE_DEVICE = "bench-mq"  # mosquitto_pub's topic: as long as berrykitd's
NAME = "bench"
MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
TICKS = os.sysconf("SC_CLK_TCK")
SEQ = re.compile(rb'"seq":(\d+)')
# A program's temperature with its unit: berrykitd makes a 123-byte MQTT payload of it.
READING = (json.dumps({"id": 0, "op": "cloud_send", "name": NAME, "value": 21.5, "unit": "°C"}) + "\n").encode()

# The subscriber, a process of its own (so that the senders here do not share its interpreter).
# argv: port, client id, topic filter. Prints "ready" once subscribed, then "<seq> <time_ns>
# <bytes>" for every message (time.time_ns() when paho handed it over), in batches every few ms.
# A line "stop" on stdin: unsubscribe (so the broker keeps nothing for the session), disconnect.
SUBSCRIBER = r"""
import re, sys, threading, time
import paho.mqtt.client as mqtt
SEQ = re.compile(rb'"seq":(\d+)')
port, client_id, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
lines = []
ready = threading.Event()
out = sys.stdout.buffer

def on_connect(client, userdata, flags, rc):
    client.subscribe(topic, qos=1)

def on_subscribe(client, userdata, mid, granted):
    if not ready.is_set():
        ready.set()
        with lock:
            lines.append(b"ready\n")

def on_message(client, userdata, message):
    t = time.time_ns()
    p = message.payload
    m = SEQ.search(p)
    seq = m.group(1) if m else b"-1"
    with lock:
        lines.append(b"%s %d %d\n" % (seq, t, len(p)))

def writer():
    global lines
    while True:
        time.sleep(0.003)
        with lock:
            batch, lines = lines, []
        if batch:
            out.write(b"".join(batch))
            out.flush()

client = mqtt.Client(client_id=client_id, clean_session=False)
client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
client.reconnect_delay_set(0.05, 0.2)
client.connect("127.0.0.1", port)
client.loop_start()
threading.Thread(target=writer, daemon=True).start()
sys.stdin.readline()
client.unsubscribe(topic)
time.sleep(0.2)
client.disconnect()
client.loop_stop()
"""


def cpu_seconds(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu(pid):
    """CPU seconds of each thread of a process: {tid: seconds}."""
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[tid] = (int(fields[11]) + int(fields[12])) / TICKS
    return times


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def file_system(folder):
    """The type of the file system that holds folder (from /proc/mounts)."""
    path, best, kind = os.path.realpath(folder), "", "unknown"
    for line in open("/proc/mounts"):
        parts = line.split()
        mount = parts[1].replace("\\040", " ")
        if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
            best, kind = mount, parts[2]
    return kind


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.005)


class Subscriber:
    """The paho-python subscriber process, and what it has seen: seq -> first arrival (ns)."""

    def __init__(self, broker, client_id, topic):
        self.arrivals = {}
        self.duplicates = 0
        self.sizes = []
        self.lock = threading.Lock()
        self.process = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(broker.port), client_id, topic],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(10):
            self.stop()
            raise RuntimeError("the subscriber did not subscribe within 10 s")

    def _read(self):
        for line in self.process.stdout:
            if line == b"ready\n":
                self.ready.set()
                continue
            seq, t, size = line.split()
            seq = int(seq)
            if seq < 0:
                continue  # the retained status ("online", "offline"): not a reading
            with self.lock:
                if seq in self.arrivals:
                    self.duplicates += 1
                else:
                    self.arrivals[seq] = int(t)
                    if len(self.sizes) < 1000:
                        self.sizes.append(int(size))

    def missing(self, seqs):
        with self.lock:
            return [s for s in seqs if s not in self.arrivals]

    def wait_for(self, seqs, timeout, what):
        """Waits until every seq in seqs has arrived; returns the last arrival (ns)."""
        seqs = list(seqs)
        deadline = time.monotonic() + timeout
        pending = seqs
        while True:
            pending = self.missing(pending)
            if not pending:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}: {len(pending)} of"
                                   f" {len(seqs)} seqs missing (first {pending[:5]})")
            time.sleep(0.01)
        with self.lock:
            return max(self.arrivals[s] for s in seqs)

    def cpu(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write(b"stop\n")
                self.process.stdin.flush()
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.reader.join(5)


class Daemon:
    """berrykitd on the simulated board with the cloud on, in a folder of its own."""

    def __init__(self, args, folder, broker_port, inflight=100, batch_window=0.01, sensors=None,
                 reconnect_max=60):
        folder.mkdir(parents=True)
        self.folder = folder
        # Sockets in a folder of their own in /tmp: FOLDER's path may be too long for a Unix socket's.
        self.socket = os.path.join(args.sockets, folder.name + ".sock")
        self.outbox = folder / "outbox.sqlite"
        config = {
            "device_id": DEVICE,
            "log_level": "warning",
            "mqtt": {"url": f"mqtt://127.0.0.1:{broker_port}", "inflight": inflight,
                     "reconnect": {"min": 0.5, "max": reconnect_max}},
            "outbox": {"file": str(self.outbox), "batch_window": batch_window},
            # Only the readings the bench makes, unless it asks for the sensors.
            "sensors": sensors or {part: {"enabled": False} for part in ("temperature", "climate", "light",
                                                                         "distance")},
        }
        (folder / "berrykit.json").write_text(json.dumps(config))
        self.log = open(folder / "berrykitd.log", "w")
        self.process = subprocess.Popen([args.berrykitd, "--backend", "sim", "--socket", self.socket, "--config",
                                         str(folder / "berrykit.json")], stderr=self.log)
        try:
            wait_until(lambda: os.path.exists(self.socket) or self.process.poll() is not None, 10,
                       "berrykitd to start")
            if self.process.poll() is not None:
                raise RuntimeError("berrykitd did not start: " + (folder / "berrykitd.log").read_text())
            self.control = socket.socket(socket.AF_UNIX)
            self.control.connect(self.socket)
            self.control.settimeout(10)
            self.read = line_reader(self.control)
            self.next_id = 0
        except BaseException:
            self.stop()
            raise

    def request(self, op, **fields):
        self.next_id += 1
        self.control.sendall((json.dumps({"id": self.next_id, "op": op, **fields}) + "\n").encode())
        while True:
            reply = json.loads(self.read())
            if reply.get("id") == self.next_id:
                if not reply.get("ok"):
                    raise RuntimeError(f"{op}: {reply}")
                return reply

    def status(self):
        return self.request("cloud_status")

    def wait_connected(self, timeout=15):
        wait_until(lambda: self.status()["mqtt"]["connected"], timeout, "berrykitd to connect to the broker")

    def cpu(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def send_pipelined(path, count, connections, window):
    """cloud_send `count` readings from `connections` connections, each keeping up to `window`
    requests unanswered. Returns (seqs, time of the first send (ns), time of the last reply (ns))."""
    per = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]
    selector = selectors.DefaultSelector()
    states = []
    for n in per:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.setblocking(False)
        state = {"sock": s, "request": READING, "to_send": n, "unanswered": 0, "out": b"", "in": b""}
        states.append(state)
        selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
    seqs = []
    remaining = count
    t0 = time.time_ns()
    deadline = time.monotonic() + 120
    try:
        while remaining:
            if time.monotonic() > deadline:
                raise RuntimeError(f"cloud_send: {remaining} of {count} replies missing after 120 s")
            for key, events in selector.select(1):
                st = key.data
                if events & selectors.EVENT_WRITE:
                    if not st["out"] and st["to_send"] and st["unanswered"] < window:
                        k = min(st["to_send"], window - st["unanswered"])
                        st["out"] = st["request"] * k
                        st["to_send"] -= k
                        st["unanswered"] += k
                    if st["out"]:
                        sent = st["sock"].send(st["out"])
                        st["out"] = st["out"][sent:]
                if events & selectors.EVENT_READ:
                    chunk = st["sock"].recv(1 << 20)
                    if not chunk:
                        raise RuntimeError("berrykitd hung up")
                    data = st["in"] + chunk
                    end = data.rfind(b"\n") + 1
                    complete, st["in"] = data[:end], data[end:]
                    if b'"ok":false' in complete:
                        raise RuntimeError("cloud_send refused: " + complete.decode()[:300])
                    got = [int(x) for x in SEQ.findall(complete)]
                    seqs += got
                    st["unanswered"] -= len(got)
                    remaining -= len(got)
                want = selectors.EVENT_READ
                if st["out"] or (st["to_send"] and st["unanswered"] < window):
                    want |= selectors.EVENT_WRITE
                selector.modify(st["sock"], want, st)
        return seqs, t0, time.time_ns()
    finally:
        for st in states:
            st["sock"].close()
        selector.close()


def paced_sends(path, rate, duration, stop=None):
    """cloud_send at `rate` per second for `duration` s (or until stop is set), on a fixed schedule,
    value = the send time; returns {seq: send time (ns)}."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.setblocking(False)
    sent_at = {}
    pending = {}  # request id -> send time
    buffer = b""
    interval = 1 / rate
    count = int(rate * duration)
    start = time.monotonic() + 0.05
    i = 0
    deadline = start + duration + 30
    try:
        while True:
            now = time.monotonic()
            sending = i < count and not (stop and stop.is_set())
            if not sending and not pending:
                break
            if not sending:
                deadline = min(deadline, now + 10)  # the replies still owed
            if now > deadline:
                raise RuntimeError(f"paced cloud_send: {len(pending)} replies missing")
            if sending and now >= start + i * interval:
                i += 1
                t = time.time_ns()
                line = json.dumps({"id": i, "op": "cloud_send", "name": NAME, "value": t / 1e9}) + "\n"
                s.sendall(line.encode())  # ~100 bytes: never blocks on an empty socket buffer
                pending[i] = t
                continue
            wake = start + i * interval if sending else now + 0.05
            ready, _, _ = select.select([s], [], [], max(0.0, wake - time.monotonic()))
            if ready:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("berrykitd hung up")
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    reply = json.loads(line)
                    if not reply.get("ok"):
                        raise RuntimeError(f"cloud_send refused: {reply}")
                    sent_at[reply["seq"]] = pending.pop(reply["id"])
        return sent_at
    finally:
        s.close()


def rusage_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def reference_run(broker, count, size, folder):
    """mosquitto_pub -l -q 1 fed `count` lines of `size` bytes; returns the figures."""
    topic = f"berrykit/{REFERENCE_DEVICE}/readings/{NAME}"
    lines = []
    for seq in range(1, count + 1):
        head, tail = '{"device":"bench-mq","sensor":"bench","value":21.5,"pad":"', f'","seq":{seq}}}'
        lines.append(head + "x" * max(0, size - len(head) - len(tail)) + tail + "\n")
    feed = folder / "reference-lines.txt"
    feed.write_text("".join(lines))
    subscriber = Subscriber(broker, "bench-cloud-reference", f"berrykit/{REFERENCE_DEVICE}/readings/#")
    try:
        c_sub, c_broker, c_children = subscriber.cpu(), cpu_seconds(broker.process.pid), rusage_children()
        with open(feed, "rb") as stdin:
            t0 = time.time_ns()
            pub = subprocess.Popen([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                                    "-i", "bench-cloud-mosquitto-pub", "-t", topic, "-l"],
                                   stdin=stdin, stderr=subprocess.PIPE)
        try:
            last = subscriber.wait_for(range(1, count + 1), 120, "mosquitto_pub's messages")
            pub.wait(30)
        finally:
            if pub.poll() is None:
                pub.kill()
                pub.wait()
        return {"rate": count / ((last - t0) / 1e9), "seconds": (last - t0) / 1e9,
                "cpu": {"mosquitto_pub": rusage_children() - c_children,
                        "mosquitto": cpu_seconds(broker.process.pid) - c_broker,
                        "subscriber": subscriber.cpu() - c_sub},
                "duplicates": subscriber.duplicates, "size": statistics.mean(subscriber.sizes)}
    finally:
        subscriber.stop()
        feed.unlink()


def daemon_run(args, broker, folder, count, inflight):
    """cloud_send `count` readings as fast as berrykitd takes them; returns the figures."""
    daemon = Daemon(args, folder, broker.port, inflight=inflight)
    subscriber = None
    try:
        daemon.wait_connected()
        subscriber = Subscriber(broker, f"bench-cloud-{inflight}", f"berrykit/{DEVICE}/#")
        warm = daemon.request("cloud_send", name=NAME, value=21.5, unit="°C")["seq"]  # as READING
        subscriber.wait_for([warm], 10, "the first reading")
        cpu0 = {"berrykitd": daemon.cpu(), "mosquitto": cpu_seconds(broker.process.pid),
                "subscriber": subscriber.cpu(), "bench client": self_cpu()}
        threads0 = thread_cpu(daemon.process.pid)
        seqs, t0, t_replied = send_pipelined(daemon.socket, count, args.connections, args.window)
        cpu_replied = self_cpu()
        if len(set(seqs)) != count:
            raise RuntimeError(f"{count} cloud_send, {len(set(seqs))} distinct seqs")
        last = subscriber.wait_for(seqs, 120, "berrykitd's readings")
        cpu = {"berrykitd": daemon.cpu() - cpu0["berrykitd"],
               "mosquitto": cpu_seconds(broker.process.pid) - cpu0["mosquitto"],
               "subscriber": subscriber.cpu() - cpu0["subscriber"],
               "bench client": cpu_replied - cpu0["bench client"]}
        threads = thread_cpu(daemon.process.pid)
        busiest = max(threads[t] - threads0.get(t, 0) for t in threads)
        got = set(subscriber.arrivals)
        gaps = set(range(min(seqs), max(seqs) + 1)) - got
        status = daemon.status()
        return {"rate": count / ((last - t0) / 1e9), "accepted": count / ((t_replied - t0) / 1e9),
                "seconds": (last - t0) / 1e9, "cpu": cpu, "gaps": len(gaps), "duplicates": subscriber.duplicates,
                "size": statistics.mean(subscriber.sizes), "dropped": status["outbox"]["dropped"],
                "busiest_thread": busiest}
    finally:
        if subscriber:
            subscriber.stop()
        daemon.stop()


def latency_run(args, broker, folder, batch_window):
    daemon = Daemon(args, folder, broker.port, batch_window=batch_window)
    subscriber = None
    try:
        daemon.wait_connected()
        subscriber = Subscriber(broker, f"bench-cloud-latency-{folder.name}", f"berrykit/{DEVICE}/#")
        warm = daemon.request("cloud_send", name=NAME, value=0)["seq"]
        subscriber.wait_for([warm], 10, "the first reading")
        sent_at = paced_sends(daemon.socket, 100, args.latency_seconds)
        subscriber.wait_for(sent_at, 30, "the paced readings")
        with subscriber.lock:
            ms = [(subscriber.arrivals[seq] - t) / 1e6 for seq, t in sent_at.items()]
        return {"n": len(ms), "median": statistics.median(ms), "p99": percentile(ms, 99), "max": max(ms)}
    finally:
        if subscriber:
            subscriber.stop()
        daemon.stop()


def disk_run(args, folder, count):
    """The broker away (a port nobody listens on): `count` readings queued; bytes on disk."""
    daemon = Daemon(args, folder, free_port())
    try:
        seqs, t0, t1 = send_pipelined(daemon.socket, count, args.connections, args.window)
        outbox = daemon.status()["outbox"]
        files = {p.name: p.stat().st_size for p in sorted(folder.glob("outbox.sqlite*"))}
        return {"queued": outbox["queued"], "file_bytes": outbox["file_bytes"], "queued_bytes": outbox["queued_bytes"],
                "files": files, "accepted": count / ((t1 - t0) / 1e9), "dropped": outbox["dropped"]}
    finally:
        daemon.stop()


def outage_run(args, broker, folder):
    sensors = {part: {"period": 0.1} for part in ("temperature", "climate", "light", "distance")}
    daemon = Daemon(args, folder, broker.port, sensors=sensors, reconnect_max=args.reconnect_max)
    subscriber = None
    stop_sending = threading.Event()
    sender_result = {}
    sender = None
    try:
        daemon.wait_connected()
        subscriber = Subscriber(broker, "bench-cloud-outage", f"berrykit/{DEVICE}/#")
        first = daemon.status()["outbox"]["next_seq"]

        def send():
            try:
                sender_result["sent"] = paced_sends(daemon.socket, 100, args.outage + 600, stop_sending)
            except Exception as e:  # reported below
                sender_result["error"] = e
        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(args.lead)
        before = daemon.status()["outbox"]["next_seq"]
        t_lead = time.monotonic()
        broker.stop()
        t_down = time.monotonic()
        time.sleep(args.outage)
        status = daemon.status()
        queued, last_before = status["outbox"]["queued"], status["outbox"]["next_seq"] - 1
        reconnects = status["mqtt"]["reconnects"]
        rate = (last_before + 1 - before) / (time.monotonic() - t_lead)
        t_up = time.monotonic()
        broker.start()
        t_started = time.monotonic()
        wait_until(lambda: daemon.status()["mqtt"]["reconnects"] > reconnects, args.reconnect_max + 30,
                   "berrykitd to reconnect")
        t_connected = time.monotonic()
        last = subscriber.wait_for(range(first, last_before + 1), 300, "the readings queued in the outage")
        drained = last / 1e9 - (time.time() - time.monotonic())  # on the monotonic clock
        stop_sending.set()
        sender.join(30)
        if "error" in sender_result:
            raise sender_result["error"]
        got = set(subscriber.arrivals)
        gaps = set(range(first, last_before + 1)) - got
        return {"rate": rate, "down": t_up - t_down, "queued": queued, "reconnect": t_connected - t_up,
                "broker_start": t_started - t_up, "drain": drained - t_up, "drain_after_connect": drained - t_connected,
                "gaps": len(gaps), "duplicates": subscriber.duplicates, "expected": last_before + 1 - first}
    finally:
        stop_sending.set()
        if sender:
            sender.join(30)
        if subscriber:
            subscriber.stop()
        daemon.stop()


def figure_sustained(args, broker, tmp):
    # Taking turns, so that a busy moment of the machine does not favour one side; each
    # mosquitto_pub run sends messages of the size berrykitd's run before it sent.
    n = args.readings
    ref, runs = [], {}
    for inflight in (100, 1000):
        runs[inflight] = daemon_run(args, broker, tmp / f"sustained-{inflight}", n, inflight)
        ref.append(reference_run(broker, n, round(runs[inflight]["size"]), tmp))
    ref_rate = statistics.mean(r["rate"] for r in ref)
    print(f"1. sustained, {n:,} readings at QoS 1 until the subscriber has every one"
          f" ({args.connections} connections, {args.window} cloud_send unanswered each)")
    for i, r in enumerate(ref):
        cpu = ", ".join(f"{k} {1e6 * v / n:.0f} us" for k, v in r["cpu"].items())
        print(f"   mosquitto_pub -l -q 1, run {i + 1}, {r['size']:.0f}-byte messages: {r['rate']:9,.0f} msg/s"
              f"   CPU per message: {cpu}")
    for inflight, r in runs.items():
        cpu = ", ".join(f"{k} {1e6 * v / n:.0f} us" for k, v in r["cpu"].items())
        print(f"   berrykitd, mqtt.inflight {inflight:4}, {r['size']:.0f}-byte readings: {r['rate']:9,.0f} readings/s"
              f" = {r['rate'] / ref_rate:.2f}x mosquitto_pub's mean (goal: at least 0.5x);"
              f" gaps {r['gaps']}, duplicates {r['duplicates']}, dropped {r['dropped']}")
        print(f"      cloud_send answered (on disk) at {r['accepted']:,.0f}/s; CPU per reading: {cpu};"
              f" berrykitd {100 * r['cpu']['berrykitd'] / r['seconds']:.0f}% of a core, its busiest thread"
              f" {100 * r['busiest_thread'] / r['seconds']:.0f}%")


def figure_latency(args, broker, tmp):
    lat = {bw: latency_run(args, broker, tmp / f"latency-{bw}", bw) for bw in (0.01, 0)}
    print(f"2. cloud_send -> subscriber at 100 readings/s for {args.latency_seconds:.0f} s (goal: p99 under 20 ms)")
    for bw, r in lat.items():
        label = " (the default)" if bw == 0.01 else ""
        print(f"   outbox.batch_window {bw:<4} s: {r['n']} readings, median {r['median']:5.1f} ms,"
              f" p99 {r['p99']:5.1f} ms, max {r['max']:5.1f} ms{label}")


def figure_disk(args, tmp):
    disk = disk_run(args, tmp / "disk", args.queue)
    files = ", ".join(f"{name} {size:,}" for name, size in disk["files"].items())
    print(f"3. outbox on disk, the broker away: {disk['queued']:,} readings queued (cloud_send answered at"
          f" {disk['accepted']:,.0f}/s); file_bytes {disk['file_bytes']:,} = {disk['file_bytes'] / disk['queued']:.0f}"
          f" bytes per reading ({disk['queued_bytes'] / disk['queued']:.0f} counted against max_bytes); files: {files}")


def figure_outage(args, broker, tmp):
    out = outage_run(args, broker, tmp / "outage")
    print(f"4. broker outage of {out['down']:.0f} s, readings at {out['rate']:.0f}/s (cloud_send 100/s and the"
          f" four sampled sensors every 0.1 s): {out['queued']:,} queued at its end")
    print(f"   after the broker's restart (mosquitto listening after {out['broker_start']:.2f} s):"
          f" berrykitd reconnected in {out['reconnect']:.2f} s (mqtt.reconnect.max {args.reconnect_max:g} s);"
          f" every reading had arrived {out['drain']:.2f} s after the restart,"
          f" {out['drain_after_connect']:.2f} s after reconnecting"
          f" ({out['queued'] / max(out['drain_after_connect'], 1e-3):,.0f} readings/s);"
          f" {out['expected']:,} seqs, gaps {out['gaps']}, duplicates {out['duplicates']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berrykitd", default=os.environ.get("BERRYKITD", "build/daemon/berrykitd"))
    parser.add_argument("--dir", default=None, help="folder for the outbox files (default: the system's temp folder)")
    parser.add_argument("--readings", type=int, default=50000, help="readings for figure 1 (under 60,000)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--window", type=int, default=500, help="unanswered cloud_send per connection")
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--queue", type=int, default=20000, help="readings queued for figure 3")
    parser.add_argument("--outage", type=float, default=60, help="seconds without a broker for figure 4")
    parser.add_argument("--lead", type=float, default=5, help="seconds of traffic before the outage")
    parser.add_argument("--reconnect-max", type=float, default=2,
                        help="berrykitd's mqtt.reconnect.max for figure 4 (its default is 60)")
    parser.add_argument("--quick", action="store_true", help="smaller runs and a 10 s outage, to try it out")
    parser.add_argument("--figures", default="1234", help="which figures to measure (default: all, 1234)")
    args = parser.parse_args()
    if args.quick:
        args.readings, args.latency_seconds, args.queue, args.outage, args.lead = 10000, 5, 5000, 10, 2
    if not 0 < args.readings < 60000:
        parser.error("--readings: mosquitto_pub -l stops beyond 65,535 lines at QoS 1; keep it under 60,000")
    args.berrykitd = os.path.abspath(args.berrykitd)

    # Stopped with SIGTERM, it stops what it started (the finally blocks) before it goes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    tmp = Path(tempfile.mkdtemp(prefix="berrykit-bench-cloud-", dir=args.dir)).resolve()
    args.sockets = tempfile.mkdtemp(prefix="berrykit-bench-cloud-")
    broker = None
    try:
        broker = Broker(tmp, durable=True)
        print(f"berrykitd's cloud bridge; mosquitto on 127.0.0.1:{broker.port}; outbox in {tmp}"
              f" ({file_system(tmp)}); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
        if "1" in args.figures:
            figure_sustained(args, broker, tmp)
        if "2" in args.figures:
            figure_latency(args, broker, tmp)
        if "3" in args.figures:
            figure_disk(args, tmp)
        if "4" in args.figures:
            figure_outage(args, broker, tmp)
        print(f"(load average at the end {os.getloadavg()[0]:.2f})")
    finally:
        if broker:
            broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(args.sockets, ignore_errors=True)


if __name__ == "__main__":
    main()
