"""Command line: ``htsgd demo`` and ``htsgd reproduce <experiment>`` (also ``python -m htsgd``).

Each reproduction lives in ``htsgd.reproduce.<module>`` and exposes ``add_arguments(parser)`` and
``main(args) -> int``. The parser imports every available module to register its options, so modules keep
heavy imports (torch, matplotlib) inside their functions.

Every failure ends in one line on stderr and exit code 2 (argparse's usage errors too); set ``HTSGD_DEBUG=1``
to see the traceback of an unexpected one. ``--out`` is checked (created, writable) before any computation.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
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

#: Exit code of every rejected command (as argparse uses for usage errors).
EXIT_ERROR = 2
#: Commands whose ``--out`` is an output directory, checked before they compute (other commands may use
#: ``--out`` for a file).
OUTPUT_DIR_COMMANDS = ("demo", "reproduce")


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
    """The ``htsgd`` argument parser: ``--version``, ``demo`` and ``reproduce <experiment>``.

    Returns
    -------
    argparse.ArgumentParser
    """
    from . import __version__

    parser = argparse.ArgumentParser(prog="htsgd", description="Truncated heavy-tailed SGD: simulations and theory")
    parser.add_argument("--version", action="version", version=f"htsgd {__version__}")
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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, (ValueError, TypeError)) and text.startswith("Invalid "):
        return text  # a rejected option: the message names it and its domain
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 on success, 2 on any error (one line on stderr), 130 on Ctrl-C.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = argv  # recorded in every file the command writes
    try:
        from .reproduce._common import check_output_dir, record_provenance

        record_provenance(args)  # for every CSV/JSON this command writes through reproduce._common
        if args.command in OUTPUT_DIR_COMMANDS and getattr(args, "out", None) is not None:
            check_output_dir(args.out)  # before any computation
        if args.command == "demo":
            from .demo import main as demo_main

            return demo_main(args)
        return int(args._module.main(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # a command that exits with a message: the same one-line form
        if isinstance(exc.code, str):
            print(f"htsgd: error: {' '.join(exc.code.split())}", file=sys.stderr)
            return EXIT_ERROR
        raise
    except Exception as exc:  # noqa: BLE001  (every failure is one line; HTSGD_DEBUG=1 for the traceback)
        if os.environ.get("HTSGD_DEBUG"):
            raise
        print(f"htsgd: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
