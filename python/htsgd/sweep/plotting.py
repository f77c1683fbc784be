"""Plots of a sweep: the estimate against each axis with the theory overlaid, or a heatmap for two axes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .results import SweepResults


def _numeric(values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def plot(results: SweepResults, path: Any) -> Path:
    """Draw ``results`` into the PNG ``path`` and return it.

    Two grid axes: a heatmap of the estimate (and of the theory beside it when it has one). Otherwise one
    panel per axis: the estimate with error bars against that axis (log scales for positive numbers), one
    line per value of the other axes, the theory dashed.

    Parameters
    ----------
    results : SweepResults
    path : str or Path

    Returns
    -------
    pathlib.Path
    """
    from ..reproduce._common import RC, pyplot

    plt = pyplot()
    frame = results.cells
    axes = list(results.spec.grid) or list(results.spec.axes)
    path = Path(path)
    if frame.empty:
        raise ValueError(f"Invalid results: {results.path} holds no finished cell to plot")
    with plt.rc_context(RC):
        if len(axes) == 2:
            ds = results.to_xarray()
            has_theory = bool(np.isfinite(ds["theory"].values).any())
            fig, panels = plt.subplots(1, 2 if has_theory else 1, figsize=(9 if has_theory else 4.8, 3.8),
                                       squeeze=False)
            for ax, name in zip(panels[0], ["estimate", "theory"]):
                data = ds[name].values
                im = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis",
                               norm=_norm(data))
                ax.set_xticks(range(len(ds[axes[1]])), [f"{v:g}" if isinstance(v, float) else str(v)
                                                        for v in ds[axes[1]].values])
                ax.set_yticks(range(len(ds[axes[0]])), [f"{v:g}" if isinstance(v, float) else str(v)
                                                        for v in ds[axes[0]].values])
                ax.set_xlabel(axes[1]), ax.set_ylabel(axes[0]), ax.set_title(name)
                ax.grid(False)
                fig.colorbar(im, ax=ax)
        else:
            fig, panels = plt.subplots(1, max(1, len(axes)), figsize=(4.2 * max(1, len(axes)), 3.4), squeeze=False)
            for ax, axis in zip(panels[0], axes):
                others = [a for a in axes if a != axis]
                groups = frame.groupby(others, dropna=False) if others else [((), frame)]
                for key, g in groups:
                    g = g.sort_values(axis)
                    label = ", ".join(f"{a}={v}" for a, v in zip(others, key if isinstance(key, tuple) else (key,)))
                    x = g[axis].to_numpy() if _numeric(g[axis]) else np.arange(len(g))
                    line = ax.errorbar(x, g["estimate"], yerr=g["stderr"], marker="o", label=label or None)
                    if np.isfinite(g["theory"].to_numpy(dtype=float)).any():
                        ax.plot(x, g["theory"], ls="--", color=line[0].get_color(), lw=1)
                col = frame[axis].to_numpy(dtype=float) if _numeric(frame[axis]) else None
                finite = col[np.isfinite(col)] if col is not None else None
                if finite is not None and finite.size and (finite > 0).all() and finite.max() > 3 * finite.min():
                    ax.set_xscale("log")  # wide positive ranges (lr, scales) read best on log axes
                if (frame["estimate"] > 0).all():
                    ax.set_yscale("log")
                ax.set_xlabel(axis), ax.set_ylabel(f"{results.spec.measure['type']} estimate")
                if len(groups) > 1 and len(groups) <= 12:
                    ax.legend(title="dashed: theory")
        fig.savefig(path)
        plt.close(fig)
    return path


def _norm(data: np.ndarray):
    from matplotlib.colors import LogNorm, Normalize

    finite = data[np.isfinite(data)]
    if finite.size and (finite > 0).all() and finite.max() / finite.min() > 20:
        return LogNorm(vmin=finite.min(), vmax=finite.max())
    return Normalize(vmin=finite.min() if finite.size else 0, vmax=finite.max() if finite.size else 1)
