import os

import pytest

os.environ.setdefault("BERRYKIT_BOARD", "sim")

import berrykit  # noqa: E402
from berrykit import sim  # noqa: E402


@pytest.fixture(autouse=True)
def manual_board():
    """Every test starts on a fresh simulated board whose clock moves only with sim.advance()."""
    sim.use_manual_clock()
    yield
    berrykit.close_board()


@pytest.fixture
def real_clock_board():
    sim.use_real_clock()
    yield
    berrykit.close_board()
