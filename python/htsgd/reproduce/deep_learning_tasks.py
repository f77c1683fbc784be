"""The two tasks of ``htsgd reproduce deep-learning``: data with corrupted labels and the small CNNs.

- ``mnist1d``: MNIST-1D (Greydanus 2020), generated locally by the PyPI package ``mnist1d``; a 1-D CNN with
  8,242 parameters.
- ``digits``: scikit-learn's ``load_digits`` (1797 real 8x8 images that ship with the package); a 2-D CNN
  with 8,714 parameters.
"""
from __future__ import annotations

import math
import random

import numpy as np

__all__ = ["TASKS", "load_task", "make_data", "make_digits", "make_model"]

TASKS = ("mnist1d", "digits")


# ---------------------------------------------------------------------------------------------------- data
def make_data(seed: int, corrupt_fraction: float, num_samples: int = 5000) -> dict[str, np.ndarray]:
    """MNIST-1D generated locally (the package's own seed 42 template), labels corrupted with ``seed``."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # pragma: no cover - the torch extra installs it
        raise SystemExit("htsgd reproduce deep-learning needs mnist1d: pip install 'htsgd[torch]'") from exc
    np_state, py_state = np.random.get_state(), random.getstate()  # mnist1d reseeds the global RNGs
    try:
        args = get_dataset_args()
        args.num_samples = num_samples
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x, y = data["x"].astype(np.float32), data["y"].astype(np.int64)
    y_noisy, bad = _corrupt(y, seed, corrupt_fraction)
    return {"x": x, "y": y_noisy, "y_clean": y, "corrupted": bad,
            "x_test": data["x_test"].astype(np.float32), "y_test": data["y_test"].astype(np.int64),
            "task": np.array("mnist1d")}


def _corrupt(y: np.ndarray, seed: int, corrupt_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``y`` with a fraction of the labels moved to another class, and the indices changed."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xDA7A,)))
    n_bad = int(round(corrupt_fraction * len(y)))
    bad = np.sort(rng.choice(len(y), size=n_bad, replace=False))
    y_noisy = y.copy()
    y_noisy[bad] = (y[bad] + rng.integers(1, 10, size=n_bad)) % 10  # always another class
    return y_noisy, bad


def make_digits(seed: int, corrupt_fraction: float, n_test: int = 500) -> dict[str, np.ndarray]:
    """scikit-learn's ``load_digits`` (8x8 images scaled to [0, 1]), a fixed train/test split, labels corrupted."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - the torch extra installs it
        raise SystemExit("htsgd reproduce deep-learning --task digits needs scikit-learn: "
                         "pip install 'htsgd[torch]'") from exc
    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))  # the split is part of the task, not of the seed
    test, train = order[:n_test], order[n_test:]
    y_noisy, bad = _corrupt(y[train], seed, corrupt_fraction)
    return {"x": x[train], "y": y_noisy, "y_clean": y[train], "corrupted": bad, "x_test": x[test],
            "y_test": y[test], "task": np.array("digits")}


def load_task(task: str, seed: int, corrupt_fraction: float) -> dict[str, np.ndarray]:
    """The data of ``task`` (one of :data:`TASKS`)."""
    return make_digits(seed, corrupt_fraction) if task == "digits" else make_data(seed, corrupt_fraction)


# --------------------------------------------------------------------------------------------------- model
def make_model(seed: int, task: str = "mnist1d"):
    """A small CNN, initialised from its own generator: 1-D for MNIST-1D (8,242 parameters), 2-D for the
    8x8 digits (8,714 parameters)."""
    import torch
    from torch import nn

    if task == "digits":
        model = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(256, 32), nn.ReLU(), nn.Linear(32, 10),
        )
    else:
        model = nn.Sequential(
            nn.Unflatten(1, (1, 40)),
            nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Flatten(), nn.Linear(160, 40), nn.ReLU(), nn.Linear(40, 10),
        )
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                bound = 1.0 / math.sqrt(m.weight[0].numel())  # torch's default init, from our generator
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)
    return model
