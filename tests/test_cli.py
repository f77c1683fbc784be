"""The command line: the demo runs and prints its table; bad options are rejected with a message."""
import pytest

from finite_lr_biases import DEMO_L1_MEAN
from htsgd import cli
from stats_helpers import assert_model


def test_demo_prints_measured_beside_theory(capsys):
    assert cli.main(["demo", "--lrs", "0.1", "0.05", "--particles", "400", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "theory 1/(q lambda_b)" in out and "fitted slope" in out
    rows = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("0.1 ", "0.05 "))]
    assert len(rows) == 2
    # measured mean (column 2: value +- stderr) against 1/(q lambda_b) plus its modelled finite-lr bias
    for r in rows:
        lr, mean, stderr, predicted = float(r[0]), float(r[1]), float(r[3]), float(r[4])
        assert_model(mean, stderr, predicted, DEMO_L1_MEAN[lr], what=f"demo mean exit time at lr {lr}")


def test_invalid_option_is_a_clean_error(capsys):
    assert cli.main(["demo", "--lrs", "-0.5"]) == 2
    assert "Invalid lr: -0.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["demo", "--seed", "-1"])
    assert "expected an integer >= 0" in capsys.readouterr().err


def test_every_reproduction_is_registered():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    rep = next(a for a in sub.choices["reproduce"]._actions if a.dest == "experiment")
    assert set(rep.choices) >= {"exit-times", "sharp-minima", "markov-chain", "rare-exits"}
