"""
Noise laws and their tails
==========================

The densities of the four noise laws at the same scale (``pdf``), and their tails ``P(|Z| > x)`` on log-log
axes: Pareto, stable and Student t fall like ``x^-alpha``, the Gaussian faster than any power.
"""
import matplotlib.pyplot as plt
import numpy as np

import htsgd

laws = {
    "Pareto(1.5)": htsgd.Pareto(1.5, 1.0),
    "Stable(1.5)": htsgd.Stable(1.5, 1.0),
    "StudentT(1.5)": htsgd.StudentT(1.5, 1.0),
    "Gaussian": htsgd.Gaussian(1.0),
}
x = np.linspace(-5, 5, 201)
tail_x = np.logspace(-1, 3, 60)
fig, (ax_pdf, ax_tail) = plt.subplots(1, 2, figsize=(9, 3.5))
for name, law in laws.items():
    ax_pdf.plot(x, law.pdf(x), label=name)
    ax_tail.loglog(tail_x, 2 * law.sf(tail_x), label=name)
ax_pdf.set(xlabel="x", ylabel="density", title="pdf")
ax_tail.set(xlabel="x", ylabel="P(|Z| > x)", title="tails", ylim=(1e-6, 1.5))
ax_pdf.legend(fontsize=8)
fig.tight_layout()
