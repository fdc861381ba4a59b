"""The inter-provincial hub: routes a card used outside its home province to its home issuer,
and tallies cross-province clearing per issuer pair (settled in files, not in real time)."""

from __future__ import annotations

import simpy

from cardsim.domain import PROVINCES
from cardsim.model.distributions import from_spec, sampler
from cardsim.model.service_point import _Busy


class Hub(_Busy):
    """The hub node: finite routing capacity and the clearing tally."""

    def __init__(self, env: simpy.Environment, hcfg: dict, rng, lo: float = 0.0,
                 hi: float = float("inf")):
        super().__init__(lo, hi)
        self.servers = hcfg["servers"]
        self.resource = simpy.Resource(env, capacity=self.servers)
        self.service = sampler(from_spec(hcfg["service_time"]), rng)
        self.latency = hcfg["latency_s"]
        #: (card province, terminal province) -> fen approved: what the card's issuer owes the
        #: acquirers of the terminal's province.
        self.flows: dict[tuple[str, str], int] = {}
        self.flow_counts: dict[tuple[str, str], int] = {}

    def route(self, env: simpy.Environment):
        """SimPy process: carry a request from an acquirer through the hub."""
        yield env.timeout(self.latency)
        with self.resource.request() as req:
            yield req
            start = env.now
            yield env.timeout(self.service())
            self.add(start, env.now)

    def clear(self, card_province: str, terminal_province: str, amount: int) -> None:
        """Record an approved cross-province transaction for clearing."""
        k = (card_province, terminal_province)
        self.flows[k] = self.flows.get(k, 0) + amount
        self.flow_counts[k] = self.flow_counts.get(k, 0) + 1

    def clearing(self) -> dict:
        """Gross flows and each province's net position (positive: it receives), in fen and yuan."""
        pairs = [(a, b) for a in PROVINCES for b in PROVINCES if a != b]
        gross = {f"{a}->{b}": self.flows.get((a, b), 0) for a, b in pairs}
        counts = {f"{a}->{b}": self.flow_counts.get((a, b), 0) for a, b in pairs}
        net = {p: self._net(p) for p in PROVINCES}
        return {"gross_fen": gross, "transactions": counts, "net_fen": net,
                "net_yuan": {p: v / 100 for p, v in net.items()}}

    def _net(self, province: str) -> int:
        """What ``province``'s acquirers receive from other issuers less what its issuer pays."""
        receives = sum(v for (a, b), v in self.flows.items() if b == province and a != province)
        pays = sum(v for (a, b), v in self.flows.items() if a == province and b != province)
        return receives - pays
