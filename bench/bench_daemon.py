"""berrykitd's figures, each printed (issue 3's goals in brackets):

  1. request round trip (claim once, then "set red" over and over), median and p99, against a bare
     Unix-socket echo of the same message size in the same run   [under 3x the echo]
  2. sustained requests per second from one client (pipelined, 64 in flight)
  3. simulated button press -> event at a subscribed client, median and p99 (presses 25 ms apart,
     so both processes wake from sleep each time, as for a real button)
  4. idle CPU over 30 s with the default kit, and resident memory   [under 0.5% of a core; under 10 MB]

    /usr/bin/python3 bench/bench_daemon.py [--berrykitd PATH] [--requests N] [--idle SECONDS]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def percentile(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def line_reader(sock):
    buffer = b""

    def next_line():
        nonlocal buffer
        while b"\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("hung up")
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        return line
    return next_line


# The bare echo runs in a process of its own, as berrykitd does (a thread here would share the
# client's GIL and look slower than it is).
ECHO_SERVER = """
import socket, sys
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen(1)
conn, _ = server.accept()
while data := conn.recv(65536):
    conn.sendall(data)
"""


def round_trips(sock, payloads, n):
    read = line_reader(sock)
    samples = []
    for i in range(n):
        data = payloads(i)
        t0 = time.perf_counter_ns()
        sock.sendall(data)
        read()
        samples.append(time.perf_counter_ns() - t0)
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berrykitd", default=os.environ.get("BERRYKITD", "build/daemon/berrykitd"))
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--presses", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="berrykit-bench-")
    path = os.path.join(tmp, "berrykit.sock")
    daemon = subprocess.Popen([args.berrykitd, "--backend", "sim", "--socket", path], stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(path):
            if daemon.poll() is not None:
                raise SystemExit("berrykitd did not start")
            time.sleep(0.01)
        client = socket.socket(socket.AF_UNIX)
        client.connect(path)
        read = line_reader(client)
        client.sendall(b'{"id": 0, "op": "claim", "part": "red"}\n')
        read()

        def set_request(i):
            return (json.dumps({"id": i + 1, "op": "set", "part": "red", "value": i % 2}) + "\n").encode()

        size = len(set_request(0))
        echo_path = os.path.join(tmp, "echo.sock")
        echo_process = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, echo_path])
        while not os.path.exists(echo_path):
            time.sleep(0.01)
        time.sleep(0.1)  # bound, now listening
        echo = socket.socket(socket.AF_UNIX)
        echo.connect(echo_path)
        echo_samples = round_trips(echo, set_request, args.requests)
        daemon_samples = round_trips(client, set_request, args.requests)
        echo.close()
        echo_process.wait(10)
        e_med, e_p99 = statistics.median(echo_samples) / 1000, percentile(echo_samples, 99) / 1000
        d_med, d_p99 = statistics.median(daemon_samples) / 1000, percentile(daemon_samples, 99) / 1000
        print(f"1. round trip, {size}-byte request, {args.requests} each")
        print(f"   bare Unix-socket echo     median {e_med:7.1f} us   p99 {e_p99:7.1f} us")
        print(f"   berrykitd set red         median {d_med:7.1f} us   p99 {d_p99:7.1f} us")
        print(f"   berrykitd / echo: median {d_med / e_med:.1f}x, p99 {d_p99 / e_p99:.1f}x   (goal: under 3x)")

        # 2. Sustained: keep 64 requests in flight.
        window, total = 64, args.requests * 5
        sent = received = 0
        t0 = time.perf_counter()
        while received < total:
            while sent < total and sent - received < window:
                client.sendall(set_request(sent))
                sent += 1
            read()
            received += 1
        elapsed = time.perf_counter() - t0
        print(f"2. sustained, one client, {window} in flight: {total / elapsed:,.0f} requests/s")

        # 3. Press -> event at a subscriber.
        listener = socket.socket(socket.AF_UNIX)
        listener.connect(path)
        listen = line_reader(listener)
        listener.sendall(b'{"id": 1, "op": "subscribe", "parts": ["button"]}\n')
        listen()
        latencies = []
        for i in range(args.presses):
            for op in ("sim_press", "sim_release"):
                t0 = time.perf_counter_ns()
                client.sendall((json.dumps({"id": "p", "op": op, "part": "button"}) + "\n").encode())
                message = json.loads(listen())
                if message.get("event") == "pressed":
                    latencies.append(time.perf_counter_ns() - t0)
                read()  # the presser's own reply
                time.sleep(0.025)  # past the button's 20 ms debounce
        us = [x / 1000 for x in latencies]
        print(f"3. press -> event at a subscriber ({len(us)} presses): median {statistics.median(us):.1f} us,"
              f" p99 {percentile(us, 99):.1f} us")
        listener.close()
        client.close()

        # 4. Idle.
        time.sleep(1)
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu():
            fields = open(f"/proc/{daemon.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks
        c0, w0 = cpu(), time.monotonic()
        time.sleep(args.idle)
        c1, w1 = cpu(), time.monotonic()
        rss = next(int(line.split()[1]) for line in open(f"/proc/{daemon.pid}/status") if line.startswith("VmRSS"))
        print(f"4. idle {w1 - w0:.0f} s with the classroom kit: CPU {100 * (c1 - c0) / (w1 - w0):.2f}% of one core"
              f" (goal: under 0.5%), resident memory {rss / 1024:.1f} MB (goal: under 10 MB)")
    finally:
        daemon.terminate()
        daemon.wait(10)


if __name__ == "__main__":
    main()
