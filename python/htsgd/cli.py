"""Command line: ``htsgd demo`` and ``htsgd reproduce <experiment>``.

Each reproduction lives in ``htsgd.reproduce.<module>`` and exposes ``add_arguments(parser)`` and
``main(args) -> int``. The parser imports every available module to register its options, so modules keep
heavy imports (torch, matplotlib) inside their functions.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import Sequence

# command name -> module under htsgd.reproduce (a command appears once its module exists)
REPRODUCTIONS: dict[str, str] = {
    "exit-times": "exit_times",
    "sharp-minima": "sharp_minima",
    "markov-chain": "markov_chain",
    "rare-exits": "rare_exits",
    "deep-learning": "deep_learning",
    "phase-diagram": "phase_diagram",
}


def _available_reproductions() -> dict[str, str]:
    out = {}
    for name, module in REPRODUCTIONS.items():
        try:
            found = importlib.util.find_spec(f"htsgd.reproduce.{module}") is not None
        except ModuleNotFoundError:  # no htsgd.reproduce package at all
            found = False
        if found:
            out[name] = module
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="htsgd", description="Truncated heavy-tailed SGD: simulations and theory")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="exit times on the double well beside the theory prediction")
    from .demo import add_arguments as demo_arguments

    demo_arguments(demo)
    from .sweep import cli as sweep_cli  # htsgd sweep run|status|plot

    sweep_cli.add_arguments(sub.add_parser("sweep", help="parameter studies on Dask (run, status, plot)"))
    sub.choices["sweep"].set_defaults(_module=sweep_cli)
    rep = sub.add_parser("reproduce", help="reproduce an experiment of the paper (plot + table)")
    rep_sub = rep.add_subparsers(dest="experiment", required=True)
    for name, module in _available_reproductions().items():
        mod = importlib.import_module(f"htsgd.reproduce.{module}")
        p = rep_sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else None)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import main as demo_main

            return demo_main(args)
        return int(args._module.main(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError) as exc:
        if not str(exc).startswith("Invalid "):  # a bug, not a rejected option: keep the traceback
            raise
        print(f"htsgd: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
