"""berrykit vs gpiozero, side by side in one run, on simulated boards.

  1. LED on()/off() calls per second: berrykit on its simulated board (real clock, as a kid's
     script runs) and gpiozero 1.6 with its MockFactory (Debian's python3-gpiozero).
  2. Press -> when_pressed latency while the main thread waits in pause(): a thread presses the
     simulated button; the time from just before the press to the start of the callback.
     berrykit runs callbacks on its own thread (events cross from C++ through a queue);
     gpiozero's mock pin calls the callback in the pressing thread, so its figure is a
     reference, not a like-for-like. berrykit is measured twice: pressed by a Python thread
     (from just before sim press to the callback), and pressed by the board's own event loop,
     as a real button's edge arrives from the kernel (from the edge's timestamp to the callback).

Goals (issue 2): at least 3x gpiozero's call rate; berrykit's callback p99 under 100 us.

    /usr/bin/python3 bench/bench_python.py [--calls N] [--presses N]
"""
import argparse
import os
import signal
import statistics
import sys
import threading
import time


def rate(label, on, off, calls, repeats=5):
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls // 2):
            on()
            off()
        elapsed = time.perf_counter() - start
        best = max(best, calls / elapsed)
    print(f"  {label:<34} {best:>12,.0f} calls/s")
    return best


def percentile(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def while_paused(work):
    """Runs `work` on a helper thread while the main thread waits in signal.pause(), as a kid's
    script does after setting its callbacks."""
    old = signal.signal(signal.SIGUSR1, lambda *a: None)
    done = threading.Event()

    def run():
        try:
            work()
        finally:
            done.set()
            os.kill(os.getpid(), signal.SIGUSR1)  # wake the main thread out of pause()

    t = threading.Thread(target=run)
    t.start()
    while not done.is_set():
        signal.pause()
    t.join()
    signal.signal(signal.SIGUSR1, old)


def report(label, samples_ns):
    us = [s / 1000 for s in samples_ns]
    median, p99 = statistics.median(us), percentile(us, 99)
    print(f"  {label:<34} median {median:7.1f} us   p99 {p99:7.1f} us   max {max(us):8.1f} us   ({len(us)} presses)")
    return median, p99


def latency(label, button, press, release, presses):
    """Presses from a Python thread: from just before press() to the start of the callback."""
    samples = []
    t0 = [0]
    got = threading.Event()

    def pressed():
        samples.append(time.perf_counter_ns() - t0[0])
        got.set()

    button.when_pressed = pressed

    def presser():
        for _ in range(presses):
            got.clear()
            time.sleep(0.002)  # this thread idles between presses, like a real button
            t0[0] = time.perf_counter_ns()
            press()
            got.wait(1)
            release()

    while_paused(presser)
    return report(label, samples)


def latency_from_board(label, button, kit, presses):
    """Presses made by the board's own event loop (as a real edge comes from the kernel): from the
    edge's timestamp to the start of the callback."""
    samples = []
    got = threading.Event()

    def pressed():
        samples.append(time.monotonic_ns() - int(round(button._event_time * 1e9)))
        got.set()

    button.when_pressed = pressed

    def presser():
        for _ in range(presses):
            got.clear()
            kit.hold("button", 0.001, 0.002)  # pressed 2 ms from now by the loop, released 1 ms later
            got.wait(1)
            button.wait_for_release(1)
            time.sleep(0.002)

    while_paused(presser)
    return report(label, samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--presses", type=int, default=2000)
    args = parser.parse_args()

    os.environ["BERRYKIT_BOARD"] = "sim"
    import berrykit
    from berrykit import LED, Button, sim
    import gpiozero
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    print(f"python {sys.version.split()[0]}, berrykit {berrykit.__version__} from "
          f"{os.path.dirname(berrykit.__file__)}, gpiozero {gpiozero.__version__ if hasattr(gpiozero, '__version__') else '1.6'}")
    print(f"\n1. LED on()/off() calls per second ({args.calls:,} calls, best of 5)")
    sim.use_real_clock()
    bk_led = LED("red")
    bk = rate("berrykit LED (simulated board)", bk_led.on, bk_led.off, args.calls)
    Device.pin_factory = MockFactory()
    gz_led = gpiozero.LED(17)
    gz = rate("gpiozero LED (MockFactory)", gz_led.on, gz_led.off, args.calls)
    print(f"  berrykit / gpiozero = {bk / gz:.1f}x   (goal: at least 3x)")
    gz_led.close()

    print(f"\n2. press -> when_pressed latency, main thread in pause()")
    kit = berrykit._kit.kit()
    bk_button = Button("button", bounce_time=0)  # presses 2 ms apart: no debounce window in the way
    med, p99 = latency("berrykit, press from a thread", bk_button, lambda: kit.press("button"),
                       lambda: kit.release("button"), args.presses)
    bmed, bp99 = latency_from_board("berrykit, press from the board", bk_button, kit, args.presses)
    gz_button = gpiozero.Button(21)
    pin = Device.pin_factory.pin(21)
    latency("gpiozero (MockPin, same thread)", gz_button, pin.drive_low, pin.drive_high, args.presses)
    print(f"  berrykit p99: {p99:.1f} us from a Python thread, {bp99:.1f} us from the board   (goal: under 100 us)")
    berrykit.close_board()


if __name__ == "__main__":
    main()
