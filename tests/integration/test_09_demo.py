"""The demo that scripts/demo.sh runs: a lesson driving the simulated board through berrykitd."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_through_the_daemon(daemon):
    env = dict(os.environ, BERRYKIT_SOCKET=daemon.socket, PYTHONPATH=os.environ.get("BERRYKIT_PYTHONPATH", ""))
    env.pop("BERRYKIT_BOARD", None)
    result = subprocess.run([sys.executable, str(ROOT / "lessons" / "demo.py"), "4"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "green ON" in out and "amber ON" in out  # the view shows what the daemon reports
    assert "[button] someone wants to cross!" in out  # the press went through the daemon to the callback
    assert "done: the traffic lights changed" in out
    assert "FallbackWarning" not in result.stderr
