"""The counter-based engine: Philox known answers, seeding conventions, reproducibility."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import htsgd
from htsgd import _core
from htsgd._rng import resolve_seed

# Random123's published known-answer vectors for philox4x32-10 (kat_vectors).
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert list(_core._testing.philox4x32(counter, key)) == expected


def test_int_and_seed_sequence_agree():
    a, b = resolve_seed(42), resolve_seed(np.random.SeedSequence(42))
    assert a.key == b.key and a.entropy == 42


def test_generator_draws_a_key_and_advances():
    g = np.random.default_rng(1)
    k1, k2 = resolve_seed(g).key, resolve_seed(g).key
    assert k1 != k2
    assert resolve_seed(np.random.default_rng(1)).key == k1


def test_none_gives_fresh_entropy():
    assert resolve_seed(None).key != resolve_seed(None).key


def test_spawned_children_differ():
    children = np.random.SeedSequence(7).spawn(3)
    keys = {resolve_seed(c).key for c in children}
    assert len(keys) == 3


@pytest.mark.parametrize("bad", [-1, 1.5, "seed", True, [1, 2]])
def test_bad_rng_rejected(bad):
    with pytest.raises((TypeError, ValueError), match="Invalid rng"):
        resolve_seed(bad)


def test_result_carries_entropy_and_repeats():
    sgd = htsgd.HeavyTailedSGD(htsgd.landscapes.DoubleWell(), 0.05, htsgd.Pareto(1.5, 0.2), truncation=0.6)
    r1 = sgd.run(1.0, 200, n_particles=50, rng=None)
    ss = np.random.SeedSequence(r1.seed_entropy, spawn_key=r1.seed_spawn_key)
    r2 = sgd.run(1.0, 200, n_particles=50, rng=ss)
    assert np.array_equal(r1.final, r2.final)
    r3 = sgd.run(1.0, 200, n_particles=50, rng=12345)
    assert not np.array_equal(r1.final, r3.final)


def test_sample_is_reproducible_and_thread_count_free():
    law = htsgd.Pareto(1.5)
    a = law.sample(100_000, rng=3)
    b = law.sample((1000, 100), rng=np.random.SeedSequence(3))
    assert np.array_equal(a, b.reshape(-1))
    # sample() runs on every core (OMP_NUM_THREADS respected): 1 and 3 threads give the same bits
    script = ("import hashlib, htsgd; "
              "print(hashlib.sha256(htsgd.Pareto(1.5).sample(100_000, rng=3).tobytes()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], env=dict(os.environ, OMP_NUM_THREADS=str(t)),
                              capture_output=True, text=True, check=True).stdout.strip() for t in (1, 3)}
    assert digests == {hashlib.sha256(a.tobytes()).hexdigest()}


def test_fill_noise_is_independent_of_threads_and_counter_addressed():
    a = np.empty(300_001)
    b = np.empty(300_001)
    _core.fill_noise(a, "stable", 1.3, 1.0, 99, 5, 1)
    _core.fill_noise(b, "stable", 1.3, 1.0, 99, 5, 2)
    assert np.array_equal(a, b)
    c = np.empty(300_001)
    _core.fill_noise(c, "stable", 1.3, 1.0, 99, 6, 2)
    assert not np.any(a == c)
    f = np.empty(1000, dtype=np.float32)
    _core.fill_noise(f, "stable", 1.3, 1.0, 99, 5, 2)
    assert np.array_equal(f, a[:1000].astype(np.float32))
