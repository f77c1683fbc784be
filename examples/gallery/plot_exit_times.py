"""
Exit times from a basin
=======================

2000 particles of truncated heavy-tailed SGD leave the right basin ``(0, inf)`` of the double well. Their exit
times are close to exponential (one big jump is enough here: ``l* = 1``), so the empirical survival function is
close to ``exp(-t / mean)``.
"""
import math

import matplotlib.pyplot as plt
import numpy as np

import htsgd
from htsgd.landscapes import DoubleWell

sgd = htsgd.HeavyTailedSGD(DoubleWell(), lr=0.1, noise=htsgd.Pareto(1.5, 0.2), truncation=1.5)
et = sgd.exit_times(x0=1.0, domain=(0.0, math.inf), n_particles=2000, max_steps=10**6, rng=1)
mean = et.mean()
print(mean)

t = np.sort(et.steps)
survival = 1.0 - np.arange(1, t.size + 1) / t.size
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogy(t, survival, label="empirical")
ax.semilogy(t, np.exp(-t / mean.value), "--", label="exp(-t / mean)")
ax.set(xlabel="exit step", ylabel="P(tau > t)", ylim=(1e-3, 1))
ax.legend()
fig.tight_layout()
