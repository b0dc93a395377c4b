"""The classroom page's figures (issue 5's goals in brackets), measured in a real browser:

  1. a program's `red.on()` / `red.off()` -> the page shows it: median, p99 and max over N
     changes, 20 a second [changes reach every open page within 50 ms]. The program notes the
     wall-clock time just before it sends the request; the page notes (performance.timeOrigin +
     performance.now()) when it has applied the change (window.berrykitPage.updates). Both are
     this machine's clock.
  2. a program toggling red 1,000 times a second for a few seconds: how many updates a second the
     page applied (it may coalesce), that the last one it shows is the final state, how long after
     the last toggle it showed it, and berrykitd's reply time to each toggle (median, p99, max:
     it must not fall behind).

berrykitd runs on the simulated board with its page on a free port; the browser is headless
Chromium through Selenium (tests/integration/pages.py). Everything it starts, it stops.

    /usr/bin/python3 bench/bench_page.py [--berrykitd PATH] [--changes N] [--seconds S]
"""
import argparse
import json
import os
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
from bench_daemon import percentile  # noqa: E402
from pages import Browser  # noqa: E402


class Program:
    """A program on berrykitd's socket: pipelined requests, replies read on a thread of its own."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.sent = {}
        self.replied = {}
        self.next_id = 0
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buffer = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            now = time.monotonic()
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                reply = json.loads(line)
                if "id" in reply:
                    with self.lock:
                        self.replied[reply["id"]] = (now, reply)

    def send(self, op, **fields):
        with self.lock:
            self.next_id += 1
            request_id = self.next_id
            self.sent[request_id] = time.monotonic()
        self.sock.sendall((json.dumps({"id": request_id, "op": op, **fields}) + "\n").encode())
        return request_id

    def wait(self, request_id, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if request_id in self.replied:
                    reply = self.replied[request_id][1]
                    assert reply.get("ok"), reply
                    return reply
            time.sleep(0.0005)
        raise TimeoutError(f"no reply to request {request_id}")

    def close(self):
        self.sock.close()


def red_updates(browser, since_ms):
    return browser.driver.execute_script(
        "return (window.berrykitPage.updates || []).filter(u => u[1] === 'red' && u[0] >= arguments[0])"
        ".map(u => [u[0], u[2].value]);", since_ms)


def latency(browser, program, changes):
    program.wait(program.send("claim", part="red"))
    delays = []
    value = 0
    for _ in range(changes):
        value = 1 - value
        sent_ms = time.time() * 1000
        program.wait(program.send("set", part="red", value=value))
        deadline = time.monotonic() + 2
        while True:
            seen = [t for t, v in red_updates(browser, sent_ms) if v == value]
            if seen:
                delays.append(seen[0] - sent_ms)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the page did not show red={value} within 2 s")
            time.sleep(0.002)
        time.sleep(0.05)
    return delays


def toggling(browser, program, seconds, rate=1000):
    count = int(seconds * rate)
    start_ms = time.time() * 1000
    start = time.monotonic()
    ids = []
    for i in range(count):
        target = start + i / rate
        pause = target - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        ids.append(program.send("set", part="red", value=(i + 1) % 2))
    last_sent_ms = time.time() * 1000
    final = count % 2
    for request_id in ids:
        program.wait(request_id, timeout=30)
    replies = [(program.replied[i][0] - program.sent[i]) * 1000 for i in ids]
    # Every reply is in: berrykitd has set the last value. Half a second on, the page must show it.
    time.sleep(0.5)
    updates = red_updates(browser, start_ms)
    shown = browser.driver.execute_script(
        "return document.querySelector('[data-part=\"red\"][data-type]').dataset.on === 'true' ? 1 : 0")
    return {"toggles": count, "sent_over_s": (last_sent_ms - start_ms) / 1000, "updates": len(updates),
            "final": shown == final and updates[-1][1] == final, "final_after_ms": updates[-1][0] - last_sent_ms,
            "replies": replies}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berrykitd", default=str(HERE.parent / "build" / "daemon" / "berrykitd"))
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-page-"))
    sock = str(folder / "berrykit.sock")
    (folder / "berrykit.json").write_text(json.dumps({"web": {"enabled": True, "port": 0}}))
    daemon = subprocess.Popen([args.berrykitd, "--backend", "sim", "--socket", sock, "--config",
                               str(folder / "berrykit.json")], stderr=subprocess.DEVNULL)
    browser = None
    program = None
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            assert daemon.poll() is None and time.monotonic() < deadline, "berrykitd did not start"
            time.sleep(0.01)
        program = Program(sock)
        page = program.wait(program.send("hello", program="bench_page"))["page"]
        browser = Browser(folder / "browser", name="bench")
        browser.open(page)
        print(f"the classroom page: berrykitd on the simulated board, headless Chromium {browser.driver.capabilities.get('browserVersion')}, "
              f"{os.cpu_count()} cores")

        delays = latency(browser, program, args.changes)
        print(f"1. red.on()/off() -> page shows it, {len(delays)} changes: median {statistics.median(delays):.1f} ms, "
              f"p99 {percentile(delays, 99):.1f} ms, max {max(delays):.1f} ms  [goal: within 50 ms]")

        result = toggling(browser, program, args.seconds)
        replies = result["replies"]
        print(f"2. red toggled {result['toggles']} times in {result['sent_over_s']:.2f} s "
              f"({result['toggles'] / result['sent_over_s']:.0f}/s): the page applied {result['updates']} updates "
              f"({result['updates'] / result['sent_over_s']:.0f}/s, coalesced); it shows the final state: "
              f"{'yes' if result['final'] else 'NO'}; its last update came {result['final_after_ms']:.1f} ms after the "
              f"last toggle (0 or less: the last toggles fell in one frame, already showing the final state)")
        print(f"   berrykitd's reply to each toggle: median {statistics.median(replies):.2f} ms, "
              f"p99 {percentile(replies, 99):.2f} ms, max {max(replies):.2f} ms")
        return 0 if result["final"] else 1
    finally:
        if browser:
            browser.close()
        if program:
            program.close()
        daemon.terminate()
        daemon.wait(10)
        subprocess.run(["rm", "-rf", str(folder)])


if __name__ == "__main__":
    sys.exit(main())
