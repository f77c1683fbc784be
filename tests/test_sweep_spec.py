"""The sweep spec: TOML round trip, expansion, per-cell seeds, and every bad-spec rule (no cluster needed)."""
import math

import numpy as np
import pytest

from htsgd.sweep import Sweep, cell_seed
from htsgd.sweep.seeding import cell_id, cell_spawn_key

ISSUE_TOML = """\
seed = 7
[model]
landscape = { type = "DoubleWell" }
noise = { type = "Pareto", alpha = 1.5, scale = 0.2 }
lr = 0.05
truncation = 0.6
[grid]
lr = [0.1, 0.05, 0.02]
truncation = [inf, 1.5, 0.6]
"noise.alpha" = [1.3, 1.5]
[measure]
type = "exit_times"
x0 = 1.0
domain = [0.0, inf]
n_particles = 4000
max_steps = 100_000_000
"""


def base(**over):
    d = {"seed": 1,
         "model": {"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto", "alpha": 1.5, "scale": 0.2},
                   "lr": 0.1, "truncation": 1.5},
         "grid": {"lr": [0.1, 0.05]},
         "measure": {"type": "exit_times", "x0": 1.0, "domain": [0.0, math.inf], "n_particles": 10,
                     "max_steps": 100}}
    d.update(over)
    return d


def test_issue_toml_parses_round_trips_and_checks():
    s = Sweep.from_toml(ISSUE_TOML)
    assert s.seed == 7 and s.grid["truncation"][0] == math.inf and s.measure["max_steps"] == 10**8
    assert Sweep.from_toml(s.to_toml()) == s
    assert Sweep.from_dict(s.to_dict()) == s
    cells = s.expand()
    assert len(cells) == 18 and s.axes == ["lr", "truncation", "noise.alpha"]
    assert cells[0].label == {"lr": 0.1, "truncation": math.inf, "noise.alpha": 1.3}
    assert cells[1].model["noise"]["alpha"] == 1.5 and cells[0].model["truncation"] == math.inf
    s.check()


def test_round_trip_of_every_landscape_law_and_measure(tmp_path):
    specs = [
        Sweep(model={"landscape": {"type": "CriticalPoints", "points": [-1.0, 0.0, 2.0], "scale": 0.5},
                     "noise": {"type": "Stable", "alpha": 1.7}, "lr": 0.05, "bounds": [-1.0, 2.0]},
              grid={"noise": [{"type": "Stable", "alpha": 1.7}, {"type": "StudentT", "df": 3.0},
                              {"type": "Gaussian", "scale": 0.5}]},
              cells=[{"lr": 0.02, "truncation": 0.7}],
              measure={"type": "run", "x0": 1.5, "n_steps": 10, "n_particles": 5, "basin": 1}, seed=3),
        Sweep(model={"landscape": {"type": "Separable", "component": {"type": "DoubleWell"}, "dim": 2},
                     "noise": {"type": "Pareto", "alpha": 1.5}, "lr": 0.05, "clip": "coordinate",
                     "isotropic": True},
              grid={"landscape.dim": [2]},
              measure={"type": "run", "x0": [1.0, 1.0], "n_steps": 3, "n_particles": 2}, seed=0),
        Sweep(model={"landscape": {"type": "Polynomial", "coefficients": [0.0, 0.0, -0.5, 0.0, 0.25]},
                     "noise": {"type": "Pareto", "alpha": 1.5, "scale": 0.1}, "lr": 0.01, "truncation": 0.4},
              measure={"type": "exit_probability", "x0": 1.0, "domain": [0.0, math.inf], "horizon": 500,
                       "n_samples": 100, "gamma": 0.2, "weight": 0.1, "side": "left"}, seed=5),
        Sweep(model={"landscape": {"type": "Tabulated", "x": [-2.0, 0.0, 2.0], "grad": [-1.0, 0.0, 1.0]},
                     "noise": {"type": "Pareto", "alpha": 1.5}, "lr": 0.05},
              grid={"landscape.x": [[-2.0, 0.0, 2.0], [-3.0, 0.0, 3.0]]},
              measure={"type": "mean_exit_time", "x0": 0.5, "domain": [-1.0, 1.0], "method": "direct",
                       "n_samples": 20, "horizons": [10, 40]}, seed=9),
    ]
    for i, s in enumerate(specs):
        s.save(tmp_path / f"s{i}.toml")
        assert Sweep.load(tmp_path / f"s{i}.toml") == s
        s.check()
    assert len(specs[0].expand()) == 4 and specs[0].axes == ["noise", "lr", "truncation"]


def test_a_cell_listed_twice_appears_once():
    s = Sweep.from_dict(base(cells=[{"lr": 0.05}, {"lr": 0.2}]))
    assert [c.label["lr"] for c in s.expand()] == [0.1, 0.05, 0.2]


def test_cell_seed_depends_on_parameters_not_position():
    a = Sweep.from_dict(base(grid={"lr": [0.1, 0.05]}))
    b = Sweep.from_dict(base(grid={"lr": [0.02, 0.05, 0.1], "noise.scale": [0.2]}))
    key = {c.label["lr"]: cell_spawn_key(c.model, "exit_times") for c in a.expand()}
    for c in b.expand():
        if c.label["lr"] in key:
            assert cell_spawn_key(c.model, "exit_times") == key[c.label["lr"]]
    m = a.expand()[0].model
    # an int and a float, a missing truncation and inf: the same cell
    same = {**m, "lr": 0.1}
    assert cell_id(same, "exit_times") == cell_id(m, "exit_times")
    other = {**m, "lr": 0.1000001}
    assert cell_id(other, "exit_times") != cell_id(m, "exit_times")
    assert cell_id(m, "run") != cell_id(m, "exit_times")
    ss = cell_seed(1, m, "exit_times")
    assert ss.entropy == 1 and ss.spawn_key == cell_spawn_key(m, "exit_times")
    assert all(0 <= w < 2**32 for w in ss.spawn_key)
    from htsgd.sweep.spec import canonical_model
    assert canonical_model({"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto", "alpha": 2},
                            "lr": 1}) == canonical_model({"landscape": {"type": "DoubleWell"},
                                                          "noise": {"type": "Pareto", "alpha": 2.0}, "lr": 1.0,
                                                          "truncation": math.inf})
    np.testing.assert_array_equal(np.random.SeedSequence(1, spawn_key=ss.spawn_key).generate_state(2),
                                  ss.generate_state(2))


# ----------------------------------------------------------------------------------- bad-spec rules
STRUCTURE = [
    (dict(bogus=1), ValueError, r"Invalid sweep key: 'bogus'; expected one of 'seed'"),
    (dict(seed=-1), ValueError, r"Invalid seed: -1; expected an integer in \[0, 2\*\*63\)"),
    (dict(seed=1.5), ValueError, r"Invalid seed: 1.5"),
    (dict(model=[1]), TypeError, r"Invalid model: expected a table"),
    (dict(grid={"lr": []}), ValueError, r"Invalid grid.lr: \[\]; expected a non-empty list"),
    (dict(grid={"lr": 0.1}), TypeError, r"Invalid grid.lr: expected a list of values"),
    (dict(grid={"lr": [0.1, 0.1]}), ValueError, r"Invalid grid.lr: .*distinct values"),
    (dict(grid={"momentum": [0.1]}), ValueError, r"Invalid grid key: 'momentum'; expected a model field"),
    (dict(grid={"lr.x": [0.1]}), ValueError, r"Invalid grid key: 'lr.x'; expected a nested field of"),
    (dict(grid={"noise.beta": [0.1]}), ValueError, r"Invalid cell .*model.noise key|Invalid cell .*: 'beta'"),
    (dict(cells=[{}]), ValueError, r"Invalid cells\[0\]"),
    (dict(cells=[{"speed": 1}]), ValueError, r"Invalid cells\[0\] key: 'speed'"),
    (dict(measure={"type": "histogram"}), ValueError, r"Invalid measure.type: 'histogram'; expected one of"),
    (dict(measure={"type": "exit_times", "x0": 1.0}), ValueError, r"type 'exit_times' needs the key 'domain'"),
    (dict(measure={"type": "run", "x0": 1.0, "n_steps": 1, "n_particles": 1, "rng": 3}), ValueError,
     r"Invalid measure key: 'rng'; expected one of 'x0', 'n_steps', 'n_particles', 'basin'"),
]


@pytest.mark.parametrize("over, exc, match", STRUCTURE)
def test_bad_structure_is_rejected_with_the_key(over, exc, match):
    with pytest.raises(exc, match=match):
        Sweep.from_dict(base(**over))


@pytest.mark.parametrize("model, match", [
    ({"noise": {"type": "Pareto", "alpha": 1.5}, "lr": 0.1}, r"Invalid model: the key 'landscape' is required"),
    ({"landscape": {"type": "Sombrero"}, "noise": {"type": "Pareto", "alpha": 1.5}, "lr": 0.1},
     r"Invalid model.landscape.type: 'Sombrero'; expected one of 'DoubleWell'"),
    ({"landscape": {"type": "DoubleWell"}, "noise": {"type": "Levy", "alpha": 1.5}, "lr": 0.1},
     r"Invalid model.noise.type: 'Levy'; expected one of 'Pareto', 'Stable', 'StudentT', 'Gaussian'"),
    ({"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto", "alpha": 1.5, "df": 3}, "lr": 0.1},
     r"Invalid model.noise key: 'df'; expected one of 'alpha', 'scale' for type 'Pareto'"),
    ({"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto"}, "lr": 0.1},
     r"Invalid model.noise: type 'Pareto' needs the key 'alpha'"),
    ({"landscape": {"type": "DoubleWell"}, "noise": {"type": "Pareto", "alpha": 1.5}, "lr": 0.1, "momentum": 0},
     r"Invalid model key: 'momentum'"),
    ({"landscape": {"type": "Separable", "component": {"type": "Cone"}, "dim": 2},
      "noise": {"type": "Pareto", "alpha": 1.5}, "lr": 0.1}, r"Invalid model.landscape.component.type: 'Cone'"),
])
def test_bad_model_tables(model, match):
    with pytest.raises(ValueError, match=match):
        Sweep.from_dict(base(model=model, grid={}))


@pytest.mark.parametrize("over, exc, match", [
    (dict(grid={"lr": [0.1, -0.1]}), ValueError,
     r"^Invalid sweep grid.lr\[1\]: Invalid lr: -0.1; expected a finite number > 0$"),
    (dict(grid={"noise.alpha": [1.5, 0.0]}), ValueError, r"^Invalid sweep grid.noise.alpha\[1\]: Invalid alpha: 0.0"),
    (dict(grid={"truncation": [math.inf, 0.0]}), ValueError, r"^Invalid sweep grid.truncation\[1\]: Invalid truncation"),
    (dict(grid={"clip": ["norm", "diagonal"]}), ValueError, r"^Invalid sweep grid.clip\[1\]: Invalid clip"),
    (dict(grid={}, cells=[{"noise.scale": -1.0}]), ValueError, r"^Invalid sweep cell \{noise.scale=-1.0\}: Invalid scale"),
    (dict(measure={"type": "exit_times", "x0": -1.0, "domain": [0.0, math.inf], "n_particles": 10,
                   "max_steps": 100}), ValueError,
     r"^Invalid sweep measure \(at cell \{lr=0.1\}\): Invalid x0: expected points strictly inside domain"),
    (dict(measure={"type": "exit_times", "x0": 1.0, "domain": [0.0, math.inf], "n_particles": 0,
                   "max_steps": 100}), ValueError, r"Invalid n_particles: 0; expected an integer >= 1"),
    (dict(measure={"type": "exit_times", "x0": 1.0, "domain": [0.0, math.inf], "n_particles": 10,
                   "max_steps": 1.5}), TypeError, r"Invalid max_steps: expected an integer"),
    (dict(measure={"type": "run", "x0": 1.0, "n_steps": 10, "n_particles": 10, "basin": 5}), ValueError,
     r"Invalid basin: 5; expected an integer >= 0 and <= 1"),
    (dict(measure={"type": "exit_probability", "x0": 1.0, "domain": [0.0, math.inf], "horizon": 100,
                   "weight": 1.5}), ValueError, r"Invalid weight"),
    (dict(model={"landscape": {"type": "DoubleWell"}, "noise": {"type": "Gaussian"}, "lr": 0.1, "truncation": 1.5},
          measure={"type": "exit_probability", "x0": 1.0, "domain": [0.0, math.inf], "horizon": 100}),
     ValueError, r"Invalid sweep measure .*Pareto"),
    (dict(measure={"type": "mean_exit_time", "x0": 1.0, "domain": [0.0, math.inf], "method": "guess"}),
     ValueError, r"Invalid method: 'guess'"),
])
def test_bad_values_get_the_models_own_error_prefixed_with_the_key(over, exc, match):
    s = Sweep.from_dict(base(**over))  # the structure is fine: values are checked by check()
    with pytest.raises(exc, match=match):
        s.check()


def test_bad_toml_syntax():
    with pytest.raises(ValueError, match=r"Invalid sweep TOML"):
        Sweep.from_toml("seed = \n[model")


def test_cli_reports_a_bad_spec_before_anything_runs(tmp_path, capsys):
    from htsgd.cli import main

    bad = Sweep.from_dict(base(grid={"noise.alpha": [1.5, -2.0]}))
    bad.save(tmp_path / "bad.toml")
    assert main(["sweep", "run", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "out")]) == 2
    assert "htsgd: error: Invalid sweep grid.noise.alpha[1]: Invalid alpha: -2.0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written, no cluster started
    (tmp_path / "typo.toml").write_text(ISSUE_TOML.replace("[grid]", "[grids]"))
    assert main(["sweep", "run", str(tmp_path / "typo.toml"), "--out", str(tmp_path / "out")]) == 2
    assert "Invalid sweep key: 'grids'" in capsys.readouterr().err


def test_default_layout_fills_the_cores_without_oversubscription():
    from htsgd.sweep.execution import default_layout

    for cores in range(1, 70):
        workers, threads = default_layout(cores=cores)
        assert workers >= 1 and threads >= 1 and cores - workers < workers * threads <= cores
    assert default_layout(cores=16) == (4, 4) and default_layout(cores=2) == (1, 2)
    assert default_layout(2, cores=2) == (2, 1)
    with pytest.raises(ValueError, match=r"Invalid workers: 0; expected an integer >= 1"):
        default_layout(0)
