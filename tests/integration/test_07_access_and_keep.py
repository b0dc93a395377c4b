"""Parts limited to Unix groups (checked with the peer's credentials) and parts the board marks
`keep`, which stay as they are when their program goes."""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from conftest import Client, Daemon


def test_a_keep_part_stays_on_after_its_program_goes(tmp_path):
    board = tmp_path / "porch.json"
    board.write_text(json.dumps({"name": "porch", "parts": {
        "lamp": {"type": "led", "line": "GPIO17", "keep": True},
        "red": {"type": "led", "line": "GPIO27"}}}))
    d = Daemon(tmp_path, "--board", str(board))
    try:
        first = Client(d.socket)
        for part in ("lamp", "red"):
            first.request("claim", part=part)
            first.request("set", part=part, value=1)
        first.close()
        second = Client(d.socket)
        for _ in range(500):  # until the daemon has seen the first program go
            if second.request("claim", part="red")["ok"]:
                break
        assert second.request("get", part="red")["state"]["value"] == 0   # back at rest
        assert second.request("get", part="lamp")["state"]["value"] == 1  # kept
        second.close()
    finally:
        d.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as the user nobody")
def test_parts_limited_to_groups_are_refused_to_others(tmp_path):
    config = {"socket": {"mode": "0666"}, "parts": {"red": {"groups": ["nogroup"]}, "amber": {"groups": ["root"]}}}
    # pytest's own temporary folders are root's alone: the socket goes where nobody can reach it.
    shared = Path(tempfile.mkdtemp(prefix="berrykit-access-"))
    shared.chmod(0o755)
    d = Daemon(shared, config=config)
    nobody = pwd.getpwnam("nobody")
    client = textwrap.dedent(f"""
        import json, socket
        s = socket.socket(socket.AF_UNIX); s.connect({d.socket!r}); f = s.makefile("rw")
        for i, part in enumerate(["red", "amber"]):
            f.write(json.dumps({{"id": i, "op": "claim", "part": part}}) + "\\n"); f.flush()
            reply = json.loads(f.readline())
            print(part, "ok" if reply["ok"] else reply["error"]["code"] + ": " + reply["error"]["message"])
    """)
    try:
        def become_nobody():
            os.setgid(nobody.pw_gid)
            os.setgroups([])
            os.setuid(nobody.pw_uid)
        result = subprocess.run([sys.executable, "-c", client], preexec_fn=become_nobody, capture_output=True,
                                text=True, timeout=30)
        lines = result.stdout.splitlines()
        assert lines and lines[0] == "red ok", result.stderr  # nobody is in nogroup
        assert lines[1].startswith("amber forbidden: you are not allowed to use 'amber'")
        root = Client(d.socket)
        assert root.request("claim", part="amber")["ok"]     # root may use every part
        root.close()
    finally:
        d.stop()
        shutil.rmtree(shared, ignore_errors=True)
