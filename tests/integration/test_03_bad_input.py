"""Bad input never hurts anyone else: each bad client gets a clear error or a clean hang-up, and
the daemon and the other clients carry on."""
import json
import socket
import time

from conftest import Client


def test_each_kind_of_bad_request_gets_its_error(connect):
    c = connect()
    c.send_raw("not json\n")
    assert c.line()["error"]["code"] == "bad_json"
    c.send_raw('{"op": "hello"}\n')
    assert "id" in c.line()["error"]["message"]
    assert c.request("fly")["error"]["code"] == "unknown_op"
    assert c.request("claim")["error"]["code"] == "bad_request"          # missing field
    assert c.request("claim", part=3)["error"]["code"] == "bad_request"  # wrong type
    assert c.request("claim", part="redd")["error"]["code"] == "unknown_part"
    assert c.request("hello")["ok"]


def test_a_line_over_64_kib_ends_only_that_client(daemon, connect):
    other = connect()
    big = Client(daemon.socket)
    big.send_raw("x" * (70 * 1024))
    assert big.line()["error"]["code"] == "too_long"
    assert big.line() is None  # hung up
    assert other.request("hello")["ok"]


def test_200_clients_at_once(daemon):
    clients = [Client(daemon.socket) for _ in range(200)]
    for i, c in enumerate(clients):
        c.file.write(json.dumps({"id": i, "op": "hello"}) + "\n")
        c.file.flush()
    for i, c in enumerate(clients):
        reply = c.line()
        assert reply["ok"] and reply["id"] == i
    for c in clients:
        c.close()


def test_a_client_that_stops_reading_is_disconnected_and_others_carry_on(daemon, connect):
    slow = socket.socket(socket.AF_UNIX)
    slow.connect(daemon.socket)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    request = (json.dumps({"id": 1, "op": "parts"}) + "\n").encode()
    other = connect()
    sent = 0
    try:
        for _ in range(5000):  # ask for the parts list over and over, never reading the replies
            slow.sendall(request)
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon hung up on us: that is the point
    time.sleep(0.2)
    assert other.request("hello")["ok"]
    slow.settimeout(5)
    received = 0
    try:
        while chunk := slow.recv(65536):
            received += len(chunk)
    except (ConnectionResetError, socket.timeout):
        pass
    assert received < sent * 2000  # it did not get every reply: it was cut off
    slow.close()


def test_a_client_killed_mid_request(daemon, connect):
    half = socket.socket(socket.AF_UNIX)
    half.connect(daemon.socket)
    half.sendall(b'{"id": 1, "op": "cla')  # and then it is gone
    half.close()
    assert connect().request("hello")["ok"]
