"""The libsodium shortcut in cardsim.signing.crypto uses PyNaCl's private ``nacl._sodium``.

It stays only while it signs exactly what PyNaCl's public API signs, on a PyNaCl release inside
the range pinned in pyproject.toml.
"""

import os
import re
import tomllib
from importlib.metadata import version

import pytest
from nacl.signing import SigningKey

from cardsim.signing.crypto import ED25519, FastEd25519Key

from conftest import ROOT


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.match(r"\d+(?:\.\d+)*", text).group(0).split("."))


def pinned_range() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(lowest allowed, first excluded) release of pynacl, from pyproject.toml."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in deps if d.lower().startswith("pynacl"))
    low, high = re.fullmatch(r"pynacl>=([\d.]+),<([\d.]+)", spec, re.I).groups()
    return _release(low), _release(high)


def test_installed_pynacl_is_inside_the_pinned_range():
    low, high = pinned_range()
    assert low <= _release(version("pynacl")) < high


@pytest.mark.parametrize("n", [0, 1, 63, 64, 4031, 4032, 4033, 10_000])
def test_private_libsodium_call_signs_what_the_public_api_signs(n):
    seed, message = os.urandom(32), os.urandom(n)
    public = SigningKey(seed)
    fast = ED25519.from_seed(seed)
    assert fast.public == bytes(public.verify_key)
    assert fast.sign(message) == public.sign(message).signature
    assert FastEd25519Key(seed).sign(message) == public.sign(message).signature
