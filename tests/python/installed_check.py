"""Run by CTest with plain /usr/bin/python3 and no PYTHONPATH: the installed package must be the
one imported, and a kid's first script must work with it."""
import sys
from pathlib import Path

import berrykit
from berrykit import LED, Button, sim

expected = Path(sys.argv[1]).resolve()
where = Path(berrykit.__file__).resolve().parent
if where.parent != expected:
    sys.exit(f"berrykit was imported from {where}, not from the install folder {expected}")

red = LED("red")
button = Button("button")
button.when_pressed = red.toggle
sim.press("button")
if not red.is_lit:
    sys.exit("pressing the button did not toggle the red LED")
print(f"ok: berrykit {berrykit.__version__} from {where}")
