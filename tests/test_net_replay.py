"""The pieces of ``replay --target`` (cardsim.net.replay, cardsim.net.answers): targets, the
expected answer of a record, divergence kinds, percentiles and pacing."""

import asyncio
import time

import pytest

from cardsim.audit.replay import Filters
from cardsim.errors import CardsimError
from cardsim.net import messages as M
from cardsim.net.answers import expected
from cardsim.net.replay import TargetStats, _divergence, _pacing, _percentile, parse_targets


def test_targets():
    assert parse_targets(["hub=127.0.0.1:9"]) == {"hub": ("127.0.0.1", 9)}
    assert set(parse_targets(["issuer-sichuan=h:1", "acquirer-sichuan-metro=h:2"])) == {
        "issuer-sichuan", "acquirer-sichuan-metro"}


@pytest.mark.parametrize("items, why", [
    (["bank=h:1"], "NAME one of"), (["hub"], "NAME=HOST:PORT"), (["hub=h"], "HOST:PORT"),
    (["hub=h:1", "issuer-sichuan=h:2"], "not both"),
])
def test_bad_targets(items, why):
    with pytest.raises(CardsimError, match=why):
        parse_targets(items)


def test_what_a_node_should_answer():
    assert expected("approved", None, "issuer", via_hub=False).code == "00"
    assert expected("declined", "atc_replay", "issuer", via_hub=True).code == "94"
    # an issuer in an outage does not stand in itself; the hub does
    assert expected("declined", "standin_limit", "standin", via_hub=False).code == "91"
    hub = expected("declined", "standin_limit", "standin", via_hub=True)
    assert (hub.code, hub.reason, hub.authoriser) == ("61", "standin_limit", "standin")


def _resp(code, authoriser="issuer"):
    return M.AuthResponse("000001", "510000000001", "T1", 100, code, "issuer-sichuan", authoriser,
                          1.0, b"s" * 64)


@pytest.mark.parametrize("want, got, kind", [
    (("approved", None, "issuer"), _resp("00"), None),
    (("approved", None, "issuer"), _resp("94"), "outcome"),
    (("declined", "card_lost", "issuer"), _resp("94"), "reason"),
    (("approved", None, "standin", True), _resp("00"), "authoriser"),   # via the hub
    (("approved", None, "issuer"), _resp("91"), "response_code"),
    (("declined", "standin_limit", "standin"), _resp("91"), None),     # direct to the issuer
])
def test_divergence_kinds(want, got, kind):
    outcome, reason, authoriser, *via_hub = want
    assert _divergence(expected(outcome, reason, authoriser, bool(via_hub)), got) == kind


def test_percentiles_are_nearest_rank():
    values = [i / 1000 for i in range(1, 101)]
    assert [_percentile(values, q) for q in (0.5, 0.95, 0.99)] == [0.05, 0.095, 0.099]
    assert _percentile([], 0.5) is None
    s = TargetStats("hub", "h:1", latencies=[0.003, 0.001, 0.002]).as_dict()["latency_ms"]
    assert (s["p50"], s["max"]) == (2.0, 3.0)


def test_rate_pacing_spaces_requests():
    wait = _pacing(None, 200.0, 3600.0, Filters())
    t0 = time.perf_counter()

    async def go():
        for _ in range(21):
            await wait(None)
    asyncio.run(go())
    assert time.perf_counter() - t0 >= 0.1          # 21 requests at 200/s span 0.1 s


@pytest.mark.parametrize("speed, rate, why", [(1.0, 5.0, "one of them"), (None, -1.0, "positive"),
                                              (0.0, None, "positive")])
def test_bad_pacing(speed, rate, why):
    with pytest.raises(CardsimError, match=why):
        _pacing(speed, rate, 3600.0, Filters())
