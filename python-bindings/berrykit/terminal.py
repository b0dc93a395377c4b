"""A view of the simulated board in the terminal: LEDs light up as scripts drive them.

    python3 -m berrykit.terminal            # watch the board while your script runs in this process

In a terminal the view redraws in place ten times a second; piped to a file it prints one line
each time something changes.
"""
import sys
import threading
import time

from . import _kit

_COLORS = {"red": (255, 40, 40), "amber": (255, 170, 0), "green": (40, 220, 60)}


def _dot(level, rgb, tty):
    if not tty:
        return "ON " if level >= 0.5 else ("%.2f" % level if level > 0 else "off")
    if level <= 0:
        return "\x1b[2m○\x1b[0m"
    r, g, b = (int(c * (0.25 + 0.75 * level)) for c in rgb)
    return f"\x1b[38;2;{r};{g};{b}m●\x1b[0m"


class BoardView:
    """Draws the kit's outputs and inputs from the simulated board's lines."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self._stop = threading.Event()
        self._last = None
        self._thread = None

    def render(self):
        k = _kit.kit()
        parts = []
        remote = not hasattr(k, "line_level")  # through berrykitd: the daemon reports each part's state
        for part in k.parts():
            name, kind, lines = part["name"], part["type"], part["lines"]
            state = part.get("state", {})
            try:
                if kind == "led":
                    if remote:
                        level = float(state.get("value") or 0)
                    else:
                        level = k.line_level(lines["line"])
                        if not part["active_high"]:
                            level = 1 - level
                    parts.append(f"{name} {_dot(level, _COLORS.get(name, (255, 255, 255)), self.tty)}")
                elif kind == "rgb_led":
                    rgb = list(state.get("value") or [0, 0, 0]) if remote else \
                        [k.line_level(lines[c]) for c in ("red", "green", "blue")]
                    if self.tty:
                        r, g, b = (int(255 * c) for c in rgb)
                        dot = f"\x1b[38;2;{r};{g};{b}m●\x1b[0m" if any(rgb) else "\x1b[2m○\x1b[0m"
                    else:
                        dot = "(%.2f,%.2f,%.2f)" % tuple(rgb)
                    parts.append(f"{name} {dot}")
                elif kind == "buzzer":
                    on = (state.get("value") or 0) >= 0.5 if remote else k.line_level(lines["line"]) >= 0.5
                    parts.append(f"{name} {'BZZ' if on else '...'}")
                elif kind in ("button", "motion_sensor"):
                    if remote:
                        active = bool(state.get("pressed", state.get("motion", False)))
                    else:
                        # Pressed means the outside world drives the line to the part's active level.
                        driven = k.line_driven(lines["line"])
                        active = driven is not None and driven == (part["pull"] != "up")
                    shown = ("[X]", "[ ]") if kind == "button" else ("(!)", "( )")
                    parts.append(f"{name} {shown[0] if active else shown[1]}")
            except Exception:  # a line not claimed yet reads as it rests; never break the view
                continue
        return "  ".join(parts)

    def draw(self):
        line = self.render()
        if line == self._last:
            return
        self._last = line
        if self.tty:
            self.out.write("\r\x1b[2K" + line)
        else:
            self.out.write("%6.2f s  %s\n" % (_kit.kit().seconds(), line))
        self.out.flush()

    def start(self, fps=10):
        def loop():
            while not self._stop.wait(1 / fps):
                try:
                    self.draw()
                except Exception:
                    return  # the board was closed
        self._thread = threading.Thread(target=loop, name="berrykit-view", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join()
        try:
            self.draw()
        except Exception:
            pass
        if self.tty:
            self.out.write("\n")
            self.out.flush()


if __name__ == "__main__":
    view = BoardView().start()
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        view.stop()
