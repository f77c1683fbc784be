"""Parameter studies: ``htsgd.sweep.run(Sweep(...), DIR)`` measures every cell of a grid on Dask.

A :class:`Sweep` (base model, grid axes, extra cells, one measurement, root seed; also a TOML file) is
expanded into cells; each cell's stream derives from the root seed and its canonical parameters
(:func:`cell_seed`), so a cell gives the same bits in any sweep, on any number of workers, in any chunking.
Results land in a directory as tasks finish (resumable); :func:`load` reads them back.
"""
from .execution import run
from .results import SweepResults, load
from .seeding import cell_seed
from .spec import Cell, Sweep

__all__ = ["Sweep", "Cell", "run", "load", "SweepResults", "cell_seed"]
