"""A real mosquitto for a test: on a free 127.0.0.1 port, from a config in the test's folder.

    broker = Broker(tmp_path)                      # plain listener, anonymous clients allowed
    broker = Broker(tmp_path, durable=True)        # keeps sessions and queues across a restart
    broker = Broker(tmp_path, tls=Certificates(tmp_path / "pki"))   # also a TLS listener
    broker.stop(); broker.start()                  # a broker restart, on the same port(s)

Every broker a test starts, the test stops (the fixtures do it).
"""
import os
import random
import shutil
import socket
import subprocess
import time

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    """A free 127.0.0.1 port below the kernel's ephemeral range: a port that bind(0) never hands
    to another program, so a broker stopped for a while gets it back when it starts again."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    first = max(1024, low - 12000)
    for _ in range(200):
        port = random.randrange(first, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port between {first} and {low}")


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


class Certificates:
    """A certificate authority and a server certificate for 127.0.0.1, made with openssl; and a
    second, unrelated authority (``wrong_ca``) that did not sign the server's."""

    def __init__(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.ca, self.ca_key = folder / "ca.pem", folder / "ca.key"
        self.wrong_ca, wrong_key = folder / "wrong-ca.pem", folder / "wrong-ca.key"
        self.server, self.server_key = folder / "server.pem", folder / "server.key"
        self.client, self.client_key = folder / "client.pem", folder / "client.key"
        for cert, key, name in ((self.ca, self.ca_key, "berrykit test CA"),
                                (self.wrong_ca, wrong_key, "someone else's CA")):
            self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                          "-keyout", str(key), "-out", str(cert))
        self._signed(self.server, self.server_key, "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost")
        self._signed(self.client, self.client_key, "classroom-pi", "extendedKeyUsage=clientAuth")

    def _signed(self, cert, key, name, extension):
        request = cert.with_suffix(".csr")
        extfile = cert.with_suffix(".ext")
        extfile.write_text(extension + "\n")
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key),
                      "-out", str(request))
        self._openssl("x509", "-req", "-in", str(request), "-CA", str(self.ca), "-CAkey", str(self.ca_key),
                      "-CAcreateserial", "-days", "2", "-extfile", str(extfile), "-out", str(cert))

    @staticmethod
    def _openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)


class Broker:
    """mosquitto on 127.0.0.1:<port> (and <tls_port> with ``tls``), anonymous clients allowed.

    ``durable``: the broker keeps sessions and their queues on disk and queues without limit, so a
    subscriber with a fixed client id, clean_session=False and QoS 1 misses nothing across a
    restart (mosquitto's defaults drop messages past 1000 queued, and forget all on a restart).
    """

    def __init__(self, tmp_path, durable=False, tls=None):
        self.folder = tmp_path / f"mosquitto-{free_port()}"
        self.folder.mkdir()
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        if os.geteuid() == 0:
            # Run as root, mosquitto would become the user "mosquitto", who may not read the
            # test's private folder (its certificates, its persistence).
            lines.insert(0, "user root")
        if tls:
            lines += [f"listener {self.tls_port} 127.0.0.1", f"cafile {tls.ca}", f"certfile {tls.server}",
                      f"keyfile {tls.server_key}"]
        if durable:
            lines = [f"persistence true", f"persistence_location {self.folder}/", "autosave_interval 1",
                     "max_queued_messages 0", "max_inflight_messages 0", "per_listener_settings false"] + lines
        self.config = self.folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.log_path = self.folder / "mosquitto.log"
        self.process = None
        self.start()

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self):
        return f"mqtts://127.0.0.1:{self.tls_port}"

    def start(self):
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        for port in (self.port, self.tls_port):
            while port:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"mosquitto did not start: {self.log_path.read_text()}")
                    time.sleep(0.02)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
