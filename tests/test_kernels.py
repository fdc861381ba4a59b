"""The compiled random draws of the gate banks (cardsim.model.kernels): the distributions they
claim, and draws that are a function of (key, counter) alone. The kernels that use them are
tested through GateBank (test_background.py, test_service_point.py)."""

import math

import numpy as np
import pytest
from numba import njit

from cardsim.model import kernels as V
from cardsim.model.distributions import Deterministic, Exponential, Gamma, Lognormal, Uniform
from cardsim.model.streams import mix64

KEY = np.uint64(0x1234_5678_9ABC_DEF0)


@njit
def _draws(kind, a, b, key, m):
    out = np.empty(m)
    n = np.uint64(1)
    for i in range(m):
        out[i], n = V.variate(kind, a, b, key, n)
    return out


@njit
def _counts(lam, key, m):
    out = np.empty(m)
    n = np.uint64(1)
    for i in range(m):
        out[i], n = V.poisson(lam, key, n)
    return out


def test_mix_is_the_python_splitmix_bit_for_bit():
    for x in (0, 1, 12345, 2**63 + 7, 2**64 - 1):
        assert int(V.mix(np.uint64(x))) == mix64(x)


def test_uniforms_are_uniform_and_a_function_of_key_and_counter():
    u = np.array([V.uniform(KEY, np.uint64(n)) for n in range(200_000)])
    assert 0.0 <= u.min() and u.max() < 1.0
    assert np.histogram(u, 20, (0, 1))[0] == pytest.approx(np.full(20, 10_000), rel=0.05)
    assert V.uniform(KEY, np.uint64(77)) == u[77]
    assert V.uniform(KEY + np.uint64(1), np.uint64(77)) != u[77]


@pytest.mark.parametrize("dist", [Deterministic(2.5), Exponential(2.7), Lognormal(2.7, 0.3),
                                  Lognormal(480.0, 0.6), Gamma(1.5, 0.5), Gamma(3.0, 1.5),
                                  Uniform(1.0, 3.0)])
def test_variates_have_the_distribution_s_mean_spread_and_tail(dist):
    x = _draws(*dist.params, KEY, 300_000)
    ref = dist.sample(np.random.default_rng(5), 300_000)
    assert x.mean() == pytest.approx(dist.mean, rel=0.01)
    assert x.std() == pytest.approx(ref.std(), rel=0.03, abs=1e-9)
    assert np.percentile(x, 95) == pytest.approx(np.percentile(ref, 95), rel=0.03)
    assert x.min() >= 0.0


@pytest.mark.parametrize("lam", [0.2, 3.0, 9.99, 10.0, 42.0, 1500.0])
def test_poisson_counts_have_mean_and_variance_lambda(lam):
    k = _counts(lam, KEY, 200_000)
    assert (k == np.floor(k)).all() and k.min() >= 0
    assert k.mean() == pytest.approx(lam, rel=0.01)
    assert k.var() == pytest.approx(lam, rel=0.03)
    if lam < 10:    # inversion: the probability of no arrival at all
        assert (k == 0).mean() == pytest.approx(math.exp(-lam), abs=0.005)


def test_wave_keys_differ_per_wave_and_per_stream():
    keys = {int(V.wave_key(KEY, k)) for k in range(10_000)}
    assert len(keys) == 10_000
    assert int(V.wave_key(KEY, 3)) != int(V.wave_key(KEY + np.uint64(1), 3))


def test_every_kernel_is_cached_with_the_packages_stamp():
    from numba.core.registry import CPUDispatcher
    from cardsim.model.kernels._cache import KernelCacheLocator

    compiled = [v for v in vars(V).values() if isinstance(v, CPUDispatcher)]
    assert len(compiled) > 20
    assert all(isinstance(f._cache._impl._locator, KernelCacheLocator) for f in compiled)


def test_a_change_to_a_called_kernels_file_recompiles_its_callers(tmp_path):
    """plans.first_clocks calls draws.uniform: after draws.py changes, a fresh process must run
    the new uniform, not the cached first_clocks compiled with the old one."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    pkg = tmp_path / "kpkg"
    shutil.copytree(Path(V.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    probe = ("import numpy as np, kpkg; "
             "print(kpkg.first_clocks(np.arange(1, 4, dtype=np.uint64), np.cumsum(np.ones(96))))")

    def run() -> str:
        p = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        return p.stdout

    first = run()
    assert run() == first                            # cached, the same
    draws = pkg / "draws.py"
    text = draws.read_text()
    assert "_U53 = 1.0 / 9007199254740992.0" in text
    draws.write_text(text.replace("_U53 = 1.0 / 9007199254740992.0", "_U53 = 0.5 / 9007199254740992.0"))
    assert run() != first                            # the caller was compiled again
