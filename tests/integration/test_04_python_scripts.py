"""Python scripts use the daemon by default: two scripts share one simulated board through it, and
a third that wants a part already in use is told who has it."""
import os
import subprocess
import sys
import textwrap
import time

from conftest import Client

PACKAGE = os.environ.get("BERRYKIT_PYTHONPATH", "")


def script(daemon, tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    env = dict(os.environ, BERRYKIT_SOCKET=daemon.socket, PYTHONPATH=PACKAGE)
    env.pop("BERRYKIT_BOARD", None)  # auto: the daemon, since its socket is there
    return subprocess.Popen([sys.executable, str(path)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_two_scripts_share_the_board_and_a_third_is_told_who_has_red(daemon, tmp_path):
    blinker = script(daemon, tmp_path, "blink.py", """
        import time
        from berrykit import LED
        red = LED("red")
        red.blink(0.05, 0.05)
        print("blinking", flush=True)
        time.sleep(30)
    """)
    waiter = script(daemon, tmp_path, "wait.py", """
        from berrykit import Button
        button = Button("button")
        print("waiting", flush=True)
        print("pressed" if button.wait_for_press(timeout=10) else "timeout", flush=True)
    """)
    try:
        assert blinker.stdout.readline().strip() == "blinking", blinker.stderr.read()
        assert waiter.stdout.readline().strip() == "waiting", waiter.stderr.read()

        teacher = Client(daemon.socket)
        seen = set()
        deadline = time.monotonic() + 3
        while len(seen) < 2 and time.monotonic() < deadline:  # the blink runs in the daemon
            seen.add(teacher.request("get", part="red")["state"]["value"])
            time.sleep(0.01)
        assert seen == {0.0, 1.0}

        third = script(daemon, tmp_path, "third.py", """
            from berrykit import LED
            LED("red")
        """)
        assert third.wait(10) != 0
        error = third.stderr.read()
        assert "PartInUse" in error
        assert f"the LED 'red' is already used by another program (pid {blinker.pid}, 'blink.py')" in error

        assert teacher.request("sim_press", part="button")["ok"]
        assert waiter.stdout.readline().strip() == "pressed"
        assert waiter.wait(10) == 0
        teacher.close()
    finally:
        blinker.kill()
        waiter.kill()
        blinker.wait()
        waiter.wait()


def test_with_no_daemon_and_no_gpio_the_error_says_what_to_do(tmp_path):
    path = tmp_path / "lonely.py"
    path.write_text("from berrykit import LED\nLED('red')\n")
    env = dict(os.environ, BERRYKIT_SOCKET=str(tmp_path / "nobody-here.sock"), PYTHONPATH=PACKAGE)
    env.pop("BERRYKIT_BOARD", None)
    result = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "sudo systemctl start berrykitd" in result.stderr
    assert "BERRYKIT_BOARD=sim" in result.stderr


def test_callbacks_arrive_as_events(daemon, tmp_path):
    kid = script(daemon, tmp_path, "toggle.py", """
        from berrykit import LED, Button, pause
        red = LED("red")
        button = Button("button")
        button.when_pressed = red.toggle
        print("ready", flush=True)
        pause()
    """)
    try:
        assert kid.stdout.readline().strip() == "ready", kid.stderr.read()
        teacher = Client(daemon.socket)
        teacher.request("sim_press", part="button")
        deadline = time.monotonic() + 5
        while teacher.request("get", part="red")["state"]["value"] != 1.0:
            assert time.monotonic() < deadline, "when_pressed never turned red on"
            time.sleep(0.01)
        teacher.close()
    finally:
        kid.kill()
        kid.wait()


def test_same_api_through_the_daemon_pins_and_hold_time(daemon, tmp_path):
    kid = script(daemon, tmp_path, "kit.py", """
        import time
        from berrykit import RGBLED, Button, DistanceSensor
        rgb = RGBLED(5, 6, 13)            # by pins, as in gpiozero: the kit's RGB LED
        rgb.color = (1, 0, 0.5)
        print("rgb", rgb.color, flush=True)
        d = DistanceSensor(echo=24, trigger=23)
        print("distance", d.lines if hasattr(d, "lines") else "ok", flush=True)
        held = []
        button = Button("button", hold_time=0.3)
        button.when_held = lambda: held.append(time.monotonic())
        print("ready", flush=True)
        button.wait_for_press(timeout=10)
        t0 = time.monotonic()
        time.sleep(1.0)
        print("held", len(held), round(held[0] - t0, 1) if held else None, flush=True)
    """)
    try:
        assert kid.stdout.readline().strip() == "rgb (1.0, 0.0, 0.5)", kid.stderr.read()
        assert kid.stdout.readline().startswith("distance")
        assert kid.stdout.readline().strip() == "ready"
        teacher = Client(daemon.socket)
        assert teacher.request("get", part="rgb")["state"]["value"] == [1.0, 0.0, 0.5]
        teacher.request("sim_press", part="button")
        line = kid.stdout.readline().split()
        assert line[:2] == ["held", "1"], line      # once, at the script's 0.3 s, not the board's 1 s
        assert 0.1 <= float(line[2]) <= 0.6, line
        assert kid.wait(10) == 0
        teacher.close()
    finally:
        kid.kill()
        kid.wait()


def test_a_blink_in_the_foreground_waits_for_the_daemons_blink(daemon, tmp_path):
    kid = script(daemon, tmp_path, "blink_twice.py", """
        import time
        from berrykit import LED
        red = LED("red")
        t0 = time.monotonic()
        red.blink(0.2, 0.2, n=2, background=False)
        print("took", round(time.monotonic() - t0, 1), "lit", red.is_lit, flush=True)
    """)
    try:
        out, err = kid.communicate(timeout=20)
        took, lit = out.split()[1], out.split()[3]
        assert 0.7 <= float(took) <= 1.5, out + err   # two blinks of 0.4 s, run by the daemon
        assert lit == "False"                         # and it ends off
    finally:
        kid.kill()
        kid.wait()


def test_a_pwm_leds_frequency_goes_through_the_daemon(daemon, tmp_path):
    kid = script(daemon, tmp_path, "dim.py", """
        from berrykit import PWMLED
        from berrykit.exc import BerrykitError
        red = PWMLED("red", frequency=50)
        red.value = 0.25
        print("start", red.frequency, flush=True)
        red.frequency = 440
        print("now", red.frequency, flush=True)
        try:
            red.frequency = 20000
        except ValueError as e:
            print("refused", e, flush=True)
        input()
    """)
    try:
        assert kid.stdout.readline().split() == ["start", "50.0"], kid.stderr.read()
        assert kid.stdout.readline().split() == ["now", "440.0"]
        refused = kid.stdout.readline()
        assert refused.startswith("refused") and "frequency" in refused, refused
        teacher = Client(daemon.socket)
        state = teacher.request("get", part="red")["state"]
        assert state == {"value": 0.25, "frequency": 440.0, "animating": False}, state   # kept by the daemon
        kid.stdin.write("\n")
        kid.stdin.flush()
        assert kid.wait(10) == 0
        state = teacher.request("get", part="red")["state"]
        assert state == {"value": 0.0, "frequency": 100.0, "animating": False}, state  # at rest when it ends
        teacher.close()
    finally:
        kid.kill()
        kid.wait()
