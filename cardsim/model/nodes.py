"""The nodes of one scenario, built once: the blacklist, an issuer per province, the hub and a
merchant per (province, service point type).

The simulation and replay build their nodes here and call the same node methods, so every rule
and every step around it exists once (see :mod:`cardsim.model.merchant` and
:mod:`cardsim.model.issuer`).
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from cardsim.config.schema import SERVICE_CHANNEL, SERVICE_TYPES
from cardsim.domain import PROVINCES
from cardsim.model.blacklist import Blacklist
from cardsim.model.fares import Calendar
from cardsim.model.hub import Hub
from cardsim.model.issuer import Issuer
from cardsim.model.merchant import Merchant
from cardsim.model.streams import Streams

#: The service point type of each online channel (scenic gates for tourism, windows for government).
ONLINE_POINT = {channel: t for t, channel in SERVICE_CHANNEL.items() if channel != "transit"}


@dataclass
class Network:
    """Every node of one scenario."""

    blacklist: Blacklist
    issuers: dict[str, Issuer]
    hub: Hub
    merchants: dict[tuple[str, str], Merchant]   # (province, service point type) -> merchant


def build_network(env: simpy.Environment, cfg: dict, streams: Streams, lo: float = 0.0,
                  hi: float = float("inf")) -> Network:
    """The nodes of the scenario configuration ``cfg``; busy time is measured over [lo, hi]."""
    pcfgs = cfg["provinces"]
    blacklist = Blacklist({p: pcfgs[p]["blacklist_push_delay_s"] for p in PROVINCES},
                          {p: pcfgs[p]["blacklist_push_interval_s"] for p in PROVINCES})
    issuers = {p: Issuer(env, p, pcfgs[p]["issuer"], streams.rng(f"issuer/{p}"), lo, hi)
               for p in PROVINCES}
    hub = Hub(env, cfg["hub"], streams.rng("hub"), lo, hi)
    sim = cfg["simulation"]
    calendar = Calendar(sim["start_date"], sim["start_hour"])
    merchants = {(p, t): Merchant(p, t, pcfgs[p], blacklist, calendar)
                 for p in PROVINCES for t in SERVICE_TYPES}
    return Network(blacklist, issuers, hub, merchants)
