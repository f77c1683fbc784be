"""Shared pieces of the reproduction commands: the default landscape, options, tables, files, plots.

The default landscape (:func:`default_landscape`) has five basins, narrow-wide-narrow-wide-narrow::

    minima   -3.0   -1.5    0.0    1.7    3.4
    maxima      -2.6   -0.4    0.4    3.0
    width     0.4    1.1    0.4    1.3    0.4     (distance from the minimum to the nearer maximum)

built with :class:`htsgd.landscapes.CriticalPoints` and scaled so that ``f''`` is 1 at the wide minimum
``-1.5``. Iterates are projected onto ``[-3.0, 3.4]`` (the outer minima): the polynomial grows like
``x**8`` outside, and untruncated jumps would otherwise throw particles where one gradient step overflows.
A jump past a wall lands on the outer (narrow) minimum, which is the basin the theory assigns it to.

With Pareto noise (``alpha = 1.5``, scale 0.1) and ``lr <= 0.08`` the runs sit in the asymptotic regime
(:func:`htsgd.theory.asymptotic_regime_indicator` is below 0.01 at the wide minimum).

Every CSV/JSON written through :func:`write_csv`/:func:`write_json` records its provenance (htsgd version,
ISA, seed and command line; :func:`record_provenance`); JSON is strict.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..landscapes import CriticalPoints
from ..noise import Pareto

#: Critical points of the default landscape (minimum, maximum, ..., minimum).
POINTS = (-3.0, -2.6, -1.5, -0.4, 0.0, 0.4, 1.7, 3.0, 3.4)
#: Tail index and scale of the default Pareto noise.
ALPHA, NOISE_SCALE = 1.5, 0.1
#: Truncation for the global-dynamics commands: l* = 1 in the narrow basins, 2 in the wide ones.
GLOBAL_TRUNCATION = 0.8
#: Index (in ``landscape.basins()``) of the basin whose exit times are measured: the wide minimum -1.5.
EXIT_BASIN = 1


def default_landscape() -> CriticalPoints:
    """The five-basin landscape of the reproductions (see the module docstring).

    Returns
    -------
    htsgd.landscapes.CriticalPoints
        ``f'(x) = s * prod_k (x - c_k)`` with ``s`` such that ``f''(-1.5) = 1``.
    """
    pts = np.asarray(POINTS)
    i = 2  # the wide minimum -1.5: f''(c_i) = s * prod_{k != i} (c_i - c_k)
    curvature = float(np.prod(pts[i] - np.delete(pts, i)))
    return CriticalPoints(POINTS, scale=1.0 / abs(curvature))


def default_bounds() -> tuple[float, float]:
    """Projection interval of the iterates: the outer minima."""
    return POINTS[0], POINTS[-1]


def default_noise() -> Pareto:
    """Pareto (symmetric Lomax) noise with ``alpha = 1.5`` and scale 0.1."""
    return Pareto(ALPHA, NOISE_SCALE)


# ------------------------------------------------------------------------------------------- options
def _int_at_least(minimum: int):
    """argparse type: an integer >= minimum, with a message naming the domain."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value
    return parse


def add_common_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Options every reproduction takes: ``--quick``, ``--out``, ``--seed``, ``--threads``, ``--no-progress``."""
    parser.add_argument("--quick", action="store_true",
                        help="small grid and few particles (under a minute; the CI smoke test)")
    parser.add_argument("--out", type=Path, default=Path("htsgd-out") / command,
                        help=f"output directory (default htsgd-out/{command})")
    parser.add_argument("--seed", type=_int_at_least(0), default=2022, help="root seed (default 2022)")
    parser.add_argument("--threads", type=_int_at_least(1), default=None, help="OpenMP threads (default: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_output_dir(path: Any, option: str = "--out") -> Path:
    """Create the directory ``path`` if needed and check that files can be written in it.

    The command line calls this before any computation, so that a bad ``--out`` is a one-line error.

    Parameters
    ----------
    path : str or os.PathLike
        The output directory.
    option : str
        How the user named it (used in the message).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        ``Invalid --out: ...`` if ``path`` names a file, cannot be created, or is not writable.
    """
    out = Path(path)
    expected = "expected a directory htsgd can create and write files in"
    if out.exists() and not out.is_dir():
        raise ValueError(f"Invalid {option}: {str(out)!r} is a file, not a directory; {expected}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ValueError(f"Invalid {option}: {str(out)!r} cannot be used ({exc.strerror or exc}); "
                         f"{expected}") from None
    return out


def output_dir(args: argparse.Namespace) -> Path:
    """Create and return ``args.out``; records the run's provenance for :func:`write_csv`/:func:`write_json`."""
    record_provenance(args)
    return check_output_dir(args.out)


# -------------------------------------------------------------------------------------------- provenance
_PROVENANCE: dict[str, Any] = {}

#: How every command derives the seed of its configuration ``i`` from ``--seed`` (see :func:`seed_for`).
SEED_POLICY = "configuration i uses numpy.random.SeedSequence(seed, spawn_key=(i,))"


def record_provenance(args: argparse.Namespace) -> dict[str, Any]:
    """Remember what produced the files about to be written: version, ISA, seed, command line.

    The command line is the one :func:`htsgd.cli.main` parsed (``args.command_line``), else ``sys.argv``.
    """
    from .. import __version__, _core

    argv = getattr(args, "command_line", None)
    command = "htsgd " + shlex.join(argv) if argv is not None else shlex.join(sys.argv)
    _PROVENANCE.clear()
    _PROVENANCE.update({"htsgd_version": __version__, "isa": _core.active_isa(),
                        "seed": getattr(args, "seed", None), "seed_policy": SEED_POLICY, "command": command})
    return dict(_PROVENANCE)


def provenance() -> dict[str, Any]:
    """The provenance recorded by :func:`record_provenance` (version and ISA alone if none was)."""
    if not _PROVENANCE:
        from .. import __version__, _core

        return {"htsgd_version": __version__, "isa": _core.active_isa(), "seed": None,
                "seed_policy": SEED_POLICY, "command": shlex.join(sys.argv)}
    return dict(_PROVENANCE)


def seed_for(args: argparse.Namespace, i: int) -> np.random.SeedSequence:
    """Seed of configuration ``i``: a child of the root seed, so configurations never share streams."""
    return np.random.SeedSequence(args.seed, spawn_key=(i,))


@contextmanager
def progress(total: float, desc: str, args: argparse.Namespace) -> Iterator[Any]:
    """A tqdm bar over ``total`` work units (hidden with ``--no-progress`` or when stderr is no terminal)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="", disable=True if args.no_progress else None, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
    try:
        yield bar
    finally:
        bar.close()


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``(first, count)`` pairs covering ``range(n)`` in pieces of at most ``size``.

    Particles are addressed by id, so running them in chunks (``first_particle=first``) gives exactly the
    same numbers as one call; chunks only let the progress bar move.
    """
    return [(s, min(size, n - s)) for s in range(0, n, size)]


class Timer:
    """Wall-clock seconds since construction."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


# ------------------------------------------------------------------------------------ tables, files
def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Right-aligned plain-text table (cells already formatted as strings, or numbers shown with ``%.4g``)."""
    cells = [[c if isinstance(c, str) else f"{c:.4g}" for c in row] for row in rows]
    widths = [max(len(h), *(len(r[j]) for r in cells)) if cells else len(h) for j, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a titled table."""
    print(f"\n{title}\n{format_table(headers, rows)}", flush=True)


_CSV_PROVENANCE = ("htsgd_version", "isa", "seed", "command")


def write_csv(path: Path, records: Sequence[dict]) -> None:
    """Write a list of flat dicts (same keys) as CSV, each row led by the provenance columns
    ``htsgd_version, isa, seed, command`` (see :func:`record_provenance`)."""
    prov = provenance()
    lead = {k: prov[k] for k in _CSV_PROVENANCE}
    rows = [{**lead, **r} for r in records]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return None  # strict JSON has no NaN
        return x if math.isfinite(x) else str(x)  # nor Infinity: "inf" / "-inf"
    return x


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` (numpy values allowed) as indented, strict JSON: NaN as ``null``, infinities as the
    strings ``"inf"``/``"-inf"``. A dict gets a leading ``"provenance"`` entry (:func:`record_provenance`);
    anything else is stored under ``"data"`` beside it."""
    body = obj if isinstance(obj, dict) else {"data": obj}
    with open(path, "w") as fh:
        json.dump(_jsonable({"provenance": provenance(), **body}), fh, indent=2, allow_nan=False)
        fh.write("\n")


def fit_slope(lrs: Sequence[float], means: Sequence[float], stderrs: Sequence[float]) -> tuple[float, float]:
    """Weighted least-squares slope of ``log mean`` against ``log lr``, with its standard error.

    Weights are ``1 / (stderr / mean)**2`` (the variance of ``log mean`` by the delta method).
    """
    x, y = np.log(lrs), np.log(means)
    w = (np.asarray(means) / np.asarray(stderrs)) ** 2
    xm = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * (y - np.sum(w * y) / np.sum(w))) / sxx)
    return slope, float(1.0 / math.sqrt(sxx))


# -------------------------------------------------------------------------------------------- plots
COLORS = {"untruncated": "#0072B2", "l*=1": "#009E73", "l*=2": "#E69F00", "l*=3": "#D55E00",
          "truncated": "#D55E00", "gaussian": "#555555"}  # Okabe-Ito: readable in colour-blind print

RC = {
    "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "legend.fontsize": 7.5,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.25, "grid.linewidth": 0.5, "lines.linewidth": 1.3,
    "lines.markersize": 4.5, "errorbar.capsize": 2.5, "legend.frameon": False, "savefig.dpi": 200,
    "savefig.bbox": "tight", "figure.dpi": 100,
}


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def shade_basins(ax: Any, landscape: CriticalPoints, narrow: Sequence[int], axis: str = "x") -> None:
    """Grey bands over the narrow basins (``axis="x"``: vertical bands; ``"y"``: horizontal)."""
    basins, (b_lo, b_hi) = landscape.basins(), default_bounds()
    for k in narrow:
        lo, hi = max(basins[k].lo, b_lo), min(basins[k].hi, b_hi)
        (ax.axvspan if axis == "x" else ax.axhspan)(lo, hi, color="0.9", zorder=0, lw=0)


def narrow_wide(basins: Sequence[Any], truncation: float) -> tuple[list[int], list[int]]:
    """Indices of the narrow and the wide basins (wide: the largest ``l*`` under ``truncation``)."""
    from ..theory import jumps_needed

    ls = [jumps_needed(b.width, truncation) for b in basins]
    top = max(ls)
    return [k for k, v in enumerate(ls) if v < top], [k for k, v in enumerate(ls) if v == top]
