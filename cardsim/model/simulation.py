"""The two-province one-card model: builds the nodes from a scenario and runs them in SimPy.

Flows (decision rules live in the node modules, not here):

- transit tap (offline): arrival -> gate bank queue -> tap at the terminal -> fare (``fares``) ->
  offline rule (``Merchant.decide_offline``) -> record; with some probability the same card taps
  on the other mode later (a transfer).
- scenic gate / government window (online): arrival -> window queue -> authorisation routed by the
  merchant to the issuer, or through the hub across provinces (``Merchant.authorise``,
  ``Issuer.decide``, ``Issuer.stand_in``) -> record -> the terminal stays busy for the service time.
- loss reports: cards reported lost at random; issuers know at once, terminals once the blacklist
  reaches them (``merchant.Blacklist``).

Records are emitted in decision order, so ``seq`` follows ``sim_time``.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from itertools import accumulate
from typing import Callable

import simpy

from cardsim.domain import CHANNELS
from cardsim.domain import PROVINCES
from cardsim.model.card import CardPopulation, Card
from cardsim.model.demand import arrival_stream, government_item, hourly_rates
from cardsim.model.distributions import Exponential, from_spec, sampler, uniform_sampler
from cardsim.model.fares import SENIOR_QUOTA, TransitFares, ticket_price
from cardsim.model.hub import Hub
from cardsim.model.issuer import Issuer
from cardsim.model.blacklist import Blacklist
from cardsim.model.merchant import Merchant
from cardsim.records.record import APPROVED, DECLINED, OFFLINE, ONLINE, TERMINAL, issuer_id_for, tx_id_for
from cardsim.config.schema import SERVICE_CHANNEL, SERVICE_TYPES
from cardsim.model.service_point import GateBank, WindowBank
from cardsim.model.stats import Histogram, HourIntegral
from cardsim.model.streams import Streams, mix64

PROVINCE_TAG = {"sichuan": "SC", "chongqing": "CQ"}
TYPE_TAG = {"metro": "MET", "bus": "BUS", "scenic_gate": "SCN", "gov_window": "GOV"}
ISSUER_TIMEOUT = "issuer_timeout"
ISSUER_ID = {p: issuer_id_for(p) for p in PROVINCES}


class ServicePoints:
    """All service points of one type in one province, and the merchant operating them."""

    def __init__(self, env: simpy.Environment, province: str, stype: str, pcfg: dict, rng,
                 blacklist: Blacklist, lo: float, hi: float):
        scfg = pcfg[stype]
        self.province = province
        self.stype = stype
        self.channel = SERVICE_CHANNEL[stype]
        self.online = self.channel != "transit"
        n, terms = scfg["points"], scfg["terminals"]
        skew = scfg["point_skew"]
        self.cum = list(accumulate(1.0 / (k + 1) ** skew for k in range(n)))
        self.last = n - 1
        mean_service = from_spec(scfg["service_time"]).mean
        self.banks = [WindowBank(env, terms, lo, hi, mean_service) if self.online
                      else GateBank(terms, lo, hi) for _ in range(n)]
        self.patience = scfg["patience_s"]
        self.balked = 0
        self.waits = Histogram()
        self.hour_waits: dict[int, Histogram] = {}     # by arrival hour, warm-up included
        self.waiting = HourIntegral(int(hi // 3600.0) + 1)   # customer-seconds in the queue
        self.fares: TransitFares | None = None   # set for transit points by the Simulation
        tag = f"{PROVINCE_TAG[province]}-{TYPE_TAG[stype]}"
        self.terminal_ids = [[f"{tag}-{k + 1:03d}-{i + 1:02d}" for i in range(terms)]
                             for k in range(n)]
        self.service = sampler(from_spec(scfg["service_time"]), rng)
        self.merchant = Merchant(f"{province}-{stype.replace('_', '-')}", province, stype,
                                 scfg["upload_interval_s"], blacklist)
        self.terminals = n * terms

    def pick(self, u: float) -> int:
        k = bisect_right(self.cum, u * self.cum[-1])
        return k if k <= self.last else self.last

    def wait(self, arrival: float, start: float, warmup: float) -> None:
        """Record one customer's wait (statistics only)."""
        w = start - arrival
        if arrival >= warmup:
            self.waits.add(w)
        h = int(arrival // 3600.0)
        hist = self.hour_waits.get(h)
        if hist is None:
            hist = self.hour_waits[h] = Histogram()
        hist.add(w)
        if w > 0.0:
            self.waiting.add(arrival, start)

    def utilisation(self, span: float) -> float:
        if not self.banks or span <= 0:
            return 0.0
        return sum(b.busy for b in self.banks) / (self.terminals * span)


class Simulation:
    """One run of a scenario. ``sink(rows, marks)`` receives batches of record tuples in log order
    and the marks of the injected ones (seq -> mark, see :meth:`inject`)."""

    def __init__(self, scenario, sink: Callable[[list[tuple], dict[int, str]], None] | None = None,
                 seedseq=None, progress: Callable[[float], None] | None = None):
        cfg = scenario.config
        self.scenario = scenario
        self.cfg = cfg
        self.env = env = simpy.Environment()
        sim = cfg["simulation"]
        self.duration = sim["duration_hours"] * 3600.0
        self.warmup = min(sim["warmup_hours"] * 3600.0, self.duration)
        self.start_hour = sim["start_hour"]
        self.batch_size = sim["batch_size"]
        self.sink = sink
        self.progress = progress
        self.streams = streams = Streams(seedseq if seedseq is not None else scenario.seed)
        lo, hi = self.warmup, self.duration

        pcfgs = cfg["provinces"]
        self.population = {p: CardPopulation(p, pcfgs[p], streams.key(f"cards/{p}")) for p in PROVINCES}
        self.fares = {p: TransitFares(pcfgs[p]) for p in PROVINCES}
        self.blacklist = Blacklist({p: pcfgs[p]["blacklist_push_delay_s"] for p in PROVINCES},
                                   {p: pcfgs[p]["blacklist_push_interval_s"] for p in PROVINCES})
        self.issuers = {p: Issuer(env, p, pcfgs[p]["issuer"], streams.rng(f"issuer/{p}"), lo, hi)
                        for p in PROVINCES}
        self.hub = Hub(env, cfg["hub"], streams.rng("hub"), lo, hi)
        self.points = {p: {t: ServicePoints(env, p, t, pcfgs[p], streams.rng(f"service/{p}/{t}"),
                                            self.blacklist, lo, hi)
                           for t in SERVICE_TYPES} for p in PROVINCES}
        for p in PROVINCES:
            for t in ("metro", "bus"):
                self.points[p][t].fares = self.fares[p]
        self.trip_km = {p: sampler(from_spec(pcfgs[p]["metro"]["trip_km"]),
                                   streams.rng(f"trip_km/{p}")) for p in PROVINCES}
        self.transfer_delay = sampler(from_spec(cfg["demand"]["transit"]["transfer_delay"]),
                                      streams.rng("transfer_delay"))
        self.other = {PROVINCES[0]: PROVINCES[1], PROVINCES[1]: PROVINCES[0]}

        # statistics (waits per service point type live on the ServicePoints)
        self.auth_latency = {p: Histogram() for p in PROVINCES}
        #: (hour, channel, terminal province, card province, outcome, reason) -> [count, fen]
        self.tally: dict[tuple, list] = {}
        self.exposure = [0, 0]          # approved transactions on cards already reported lost, fen
        self.exposed_cards: set[str] = set()
        self.exposure_hourly: dict[int, int] = {}
        self.lost: list[tuple[str, str, float]] = []

        self.seq = 0
        self.buffer: list[tuple] = []
        self.marks: dict[int, str] = {}   # seq -> mark of the injected rows in the buffer
        self._un_key = streams.key("unpredictable_number")

    # --- output -----------------------------------------------------------------------------

    def _emit(self, row_tail: tuple, channel: str, tprov: str, cprov: str, outcome: str,
              reason: str | None, amount: int) -> None:
        self.seq = seq = self.seq + 1
        buffer = self.buffer
        # the terminal's unpredictable number: seeded, derived from the seq (no stream to keep)
        buffer.append((seq, tx_id_for(seq)) + row_tail + (mix64(self._un_key ^ seq) & 0xFFFFFFFF,))
        key = (int(row_tail[0] // 3600.0), channel, tprov, cprov, outcome, reason)
        t = self.tally.get(key)
        if t is None:
            self.tally[key] = [1, amount]
        else:
            t[0] += 1
            t[1] += amount
        if len(buffer) >= self.batch_size:
            self.flush()

    def inject(self, row_tail: tuple, channel: str, tprov: str, cprov: str, outcome: str,
               reason: str | None, amount: int, mark: str) -> int:
        """Emit a record made by an injector (the ``attacker`` of :meth:`run`), like any other,
        with ``mark`` (e.g. the attack kind) for the sink; returns its seq."""
        seq = self.seq + 1
        self.marks[seq] = mark             # before the emit: it may flush the batch
        self._emit(row_tail, channel, tprov, cprov, outcome, reason, amount)
        return seq

    def flush(self) -> None:
        """Hand the buffered rows, and the marks of the injected ones among them, to the sink."""
        if self.buffer:
            if self.sink is not None:
                self.sink(self.buffer, self.marks)
            self.buffer = []
            self.marks = {}

    def _settle(self, card: Card, tprov: str, amount: int, now: float) -> None:
        """Bookkeeping common to every approved transaction: clearing and blacklist exposure."""
        if card.province != tprov and amount:
            self.hub.clear(card.province, tprov, amount)
        if card.lost_at is not None and card.lost_at <= now:
            self.exposure[0] += 1
            self.exposure[1] += amount
            self.exposed_cards.add(card.card_id)
            h = int(now // 3600.0)
            self.exposure_hourly[h] = self.exposure_hourly.get(h, 0) + amount

    # --- transit (offline) --------------------------------------------------------------------

    def _transit_arrivals(self, prov: str) -> Callable[[float], None]:
        d = self.cfg["demand"]["transit"]
        u = uniform_sampler(self.streams.rng(f"choice/transit/{prov}"))
        metro_share, transfer_share = d["metro_share"], d["transfer_share"]
        pick_card = self._card_picker(prov, d["cross_province_share"], u)
        tap = self._transit_tap

        def on_arrival(now: float) -> None:
            mode = "metro" if u() < metro_share else "bus"
            tap(prov, mode, pick_card(), now, u() < transfer_share, u)
        return on_arrival

    def _card_picker(self, prov: str, cross: float, u: Callable[[], float]) -> Callable[[], Card]:
        home, away = self.population[prov], self.population[self.other[prov]]

        def pick() -> Card:
            # A card is in one place at a time: one held at a terminal for an online transaction
            # is not drawn again until it is released (a few redraws; a tiny active pool may
            # still repeat a card rather than stall).
            for _ in range(8):
                pop = away if u() < cross else home
                card = pop.get(int(u() * pop.active))
                if not card.in_use:
                    return card
            return card
        return pick

    def _transit_tap(self, prov: str, mode: str, card: Card, now: float, transfer: bool,
                     u: Callable[[], float], k: int | None = None, km: float | None = None) -> None:
        """A tap arriving at a gate bank; ``k`` and ``km`` are given by trace replays."""
        sp = self.points[prov][mode]
        if k is None:
            k = sp.pick(u())
        start, i = sp.banks[k].admit(now, sp.service(), sp.patience)
        if i < 0:
            sp.balked += 1
            return
        if km is None and mode == "metro":
            km = self.trip_km[prov]()
        base = sp.fares.metro_base(km) if mode == "metro" else sp.fares.bus_fare
        job = (sp, k, i, card, now, base, transfer, u, km)
        if start <= now:
            self._tap(job)
        else:
            # one event per queued customer; no process (see service_point.GateBank)
            self.env.timeout(start - now, job).callbacks.append(self._tap_event)

    def _tap_event(self, event) -> None:
        self._tap(event._value)

    def _tap(self, job: tuple) -> None:
        # the hottest function of a run: locals over attribute lookups, deliberately
        sp, k, i, card, arrival, base, transfer, u, km = job
        now = self.env.now
        prov, mode = sp.province, sp.stype
        card.atc += 1
        amount, conc = sp.fares.price(card, mode, base, now)
        merchant = sp.merchant
        reason = merchant.decide_offline(card, amount, now)
        if reason is None:
            outcome = APPROVED
            card.balance_fen -= amount
            if conc is SENIOR_QUOTA:
                card.quota_left -= 1
            card.last_transit_t = now
            card.last_transit_mode = mode
            self._settle(card, prov, amount, now)
        else:
            outcome = DECLINED
        wait = now - arrival
        sp.wait(arrival, now, self.warmup)
        self._emit((now, arrival, wait, "transit", mode, card.card_id, card.province,
                    card.category, sp.terminal_ids[k][i], prov, merchant.merchant_id,
                    ISSUER_ID[card.province], amount, conc, card.atc, OFFLINE, outcome, reason,
                    TERMINAL, None, card.balance_fen, merchant.upload_time(now), km, now),
                   "transit", prov, card.province, outcome, reason, amount)
        if transfer and reason is None:
            other = "bus" if mode == "metro" else "metro"
            ev = self.env.timeout(self.transfer_delay(), (prov, other, card, u))
            ev.callbacks.append(self._transfer_event)

    def _transfer_event(self, event) -> None:
        prov, mode, card, u = event._value
        if card.in_use:      # the holder is at a window with the card: the journey ends here
            return
        self._transit_tap(prov, mode, card, self.env.now, False, u)

    # --- tourism and government (online) -----------------------------------------------------

    def _online_arrivals(self, channel: str, prov: str) -> Callable[[float], None]:
        d = self.cfg["demand"][channel]
        u = uniform_sampler(self.streams.rng(f"choice/{channel}/{prov}"))
        pick_card = self._card_picker(prov, d["cross_province_share"], u)
        stype = "scenic_gate" if channel == "tourism" else "gov_window"
        sp = self.points[prov][stype]
        items = d.get("items", 0)
        item_cum = list(accumulate(1.0 / (j + 1) for j in range(items)))
        process, customer = self.env.process, self._online_customer

        def on_arrival(now: float) -> None:
            card = pick_card()
            k = sp.pick(u())
            if sp.patience and sp.banks[k].expected_wait() > sp.patience:
                sp.balked += 1
                return
            if items:
                j = min(bisect_right(item_cum, u() * item_cum[-1]), items - 1)
                service = government_item(j)
            else:
                service = stype
            process(customer(sp, k, card, now, service))
        return on_arrival

    def _online_customer(self, sp: ServicePoints, k: int, card: Card, arrival: float, service: str):
        env = self.env
        bank = sp.banks[k]
        req = bank.resource.request()
        yield req
        i = bank.take()
        start = env.now
        prov, channel = sp.province, sp.channel
        if channel == "tourism":
            amount, conc = ticket_price(card, self.cfg["provinces"][prov]["scenic_gate"])
        else:
            amount, conc = self.cfg["provinces"][prov]["gov_window"]["fee_fen"], None
        card.atc += 1
        atc = card.atc
        card.in_use = True
        issuer = self.issuers[card.province]
        auth = env.process(sp.merchant.authorise(env, card, atc, amount, channel, self.issuers, self.hub))
        yield auth | env.timeout(issuer.timeout)
        now = env.now
        if auth.triggered:
            reason, authoriser, decided = auth.value
        else:
            reason, authoriser, decided = ISSUER_TIMEOUT, TERMINAL, env.now
        card.in_use = False
        latency = now - start
        if start >= self.warmup:
            self.auth_latency[card.province].add(latency)
        sp.wait(arrival, start, self.warmup)
        if reason is None:
            outcome = APPROVED
            self._settle(card, prov, amount, now)
        else:
            outcome = DECLINED
        self._emit((now, arrival, start - arrival, channel, service, card.card_id, card.province,
                    card.category, sp.terminal_ids[k][i], prov, sp.merchant.merchant_id,
                    ISSUER_ID[card.province], amount, conc, atc, ONLINE, outcome, reason,
                    authoriser, latency, None, sp.merchant.upload_time(now), None, decided),
                   channel, prov, card.province, outcome, reason, amount)
        yield env.timeout(sp.service())
        bank.add(start, env.now)
        bank.give_back(i)
        bank.resource.release(req)

    # --- loss reports -------------------------------------------------------------------------

    def _loss_reports(self, prov: str):
        env = self.env
        per_day = self.cfg["provinces"][prov]["lost_per_day"]
        if per_day <= 0:
            return
        rng = self.streams.rng(f"loss/{prov}")
        gap = sampler(Exponential(86400.0 / per_day), rng)
        u = uniform_sampler(rng)
        pop = self.population[prov]
        while True:
            yield env.timeout(gap())
            card = pop.get(int(u() * pop.active))
            if card.lost_at is None:
                card.lost_at = env.now
                self.lost.append((card.card_id, prov, env.now))

    def _ticker(self, every: float):
        while True:
            yield self.env.timeout(every)
            self.progress(self.env.now)

    # --- run ----------------------------------------------------------------------------------

    def run(self, trace=None, attacker=None) -> dict:
        """Run to the scenario's end; returns the summary (see docs/summary.md).

        ``trace``, a SimPy process function ``trace(sim)``, replaces the scenario's demand and
        loss reports (``cardsim.audit.retime``). ``attacker``, an object whose ``process(env)`` is
        a SimPy process emitting records through :meth:`inject`, runs alongside (the API plugs in
        ``cardsim.attacks``; the model knows none)."""
        env = self.env
        t0 = time.perf_counter()
        demand = self.cfg["demand"]
        if trace is not None:
            env.process(trace(self))
        for channel in (CHANNELS if trace is None else ()):
            d = demand[channel]
            for prov in PROVINCES:
                share = d["sichuan_share"] if prov == "sichuan" else 1.0 - d["sichuan_share"]
                rates = hourly_rates(d, share)
                if max(rates) <= 0:
                    continue
                on_arrival = (self._transit_arrivals(prov) if channel == "transit"
                              else self._online_arrivals(channel, prov))
                unit_exp = sampler(Exponential(1.0), self.streams.rng(f"arrivals/{channel}/{prov}"))
                env.process(arrival_stream(env, rates, self.start_hour, unit_exp, on_arrival))
        for prov in (PROVINCES if trace is None else ()):
            env.process(self._loss_reports(prov))
        if self.progress is not None:
            env.process(self._ticker(self.duration / 200.0))
        if attacker is not None:
            env.process(attacker.process(env))
        env.run(until=self.duration)
        self.flush()
        self.wall_seconds = time.perf_counter() - t0
        return self.summary()

    def summary(self) -> dict:
        from cardsim.model.summary import build_summary
        return build_summary(self)

    def metrics(self) -> list[tuple]:
        from cardsim.model.summary import build_metrics
        return build_metrics(self)
