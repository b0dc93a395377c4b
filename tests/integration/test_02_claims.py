"""An output has one owner at a time; when a program goes, for any reason, its claims go too."""
import os
import subprocess
import sys
import textwrap
import time

from conftest import Client


def test_second_claim_names_the_owner(connect):
    first = connect("traffic.py")
    second = connect("other.py")
    assert first.request("claim", part="red")["ok"]
    refused = second.request("claim", part="red")
    assert refused["error"]["code"] == "part_in_use"
    assert "(pid %d, 'traffic.py')" % os.getpid() in refused["error"]["message"]
    # inputs and sensors can be claimed by many
    assert first.request("claim", part="button")["ok"] and second.request("claim", part="button")["ok"]


def test_a_killed_program_loses_its_claims_and_its_led_goes_off(daemon, connect):
    script = textwrap.dedent(f"""
        import json, socket, time
        s = socket.socket(socket.AF_UNIX); s.connect({daemon.socket!r})
        f = s.makefile("rw")
        for i, req in enumerate([{{"op": "claim", "part": "red"}}, {{"op": "set", "part": "red", "value": 1}}]):
            req["id"] = i; f.write(json.dumps(req) + "\\n"); f.flush(); f.readline()
        print("ready", flush=True)
        time.sleep(60)
    """)
    victim = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert victim.stdout.readline().strip() == "ready"
    watcher = connect()
    assert watcher.request("get", part="red")["state"]["value"] == 1
    victim.kill()
    victim.wait()
    deadline = time.monotonic() + 5
    while watcher.request("claim", part="red").get("ok") is not True:
        assert time.monotonic() < deadline, "the killed program's claim was never released"
        time.sleep(0.01)
    assert watcher.request("get", part="red")["state"]["value"] == 0


def test_release_gives_the_part_back(connect):
    a, b = connect(), connect()
    a.request("claim", part="green")
    a.request("set", part="green", value=0.5)
    assert a.request("release", part="green")["ok"]
    assert b.request("claim", part="green")["ok"]
    assert b.request("get", part="green")["state"]["value"] == 0  # back at rest
