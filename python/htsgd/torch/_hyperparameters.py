"""Validation of the optimizer's hyperparameters (the defaults or one param group), in one place."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .._validation import check_bool, check_choice, check_interval, check_nonnegative
from .noise import SAMPLERS, check_law
from .truncation import check_truncation

__all__ = ["NOISE_MODES", "check_hyperparameters"]

NOISE_MODES: tuple[str, ...] = ("additive", "multiplicative")


def check_hyperparameters(h: Mapping[str, Any]) -> None:
    """Validate one set of hyperparameters (the defaults or a param group); raises ValueError/TypeError."""
    lr = h["lr"]
    if isinstance(lr, Tensor):
        raise TypeError("Invalid learning rate: expected a real number, got a Tensor (use a float)")
    check_nonnegative("lr", lr, label="learning rate")
    check_law(h["noise"], h["alpha"], h["noise_scale"])
    check_choice("noise_mode", h["noise_mode"], NOISE_MODES)
    check_interval("reference_decay", h["reference_decay"], 0.0, 1.0, lo_open=False, hi_open=True)
    check_truncation(h["truncation"], h["clip"])
    check_nonnegative("momentum", h["momentum"], label="momentum value")
    check_interval("dampening", h["dampening"], 0.0, 1.0, lo_open=False, hi_open=False)
    check_nonnegative("weight_decay", h["weight_decay"], label="weight_decay value")
    nesterov = check_bool("nesterov", h["nesterov"])
    check_bool("maximize", h["maximize"])
    if h["foreach"] is not None:
        check_bool("foreach", h["foreach"])
    check_choice("sampler", h["sampler"], SAMPLERS)
    if nesterov and (h["momentum"] <= 0 or h["dampening"] != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
