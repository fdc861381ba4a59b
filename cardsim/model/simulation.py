"""The two-province one-card model: builds the nodes from a scenario and runs them in SimPy.

Flows (every decision and its effect on the card live in the node classes, called here and by
replay alike; this module holds the timing: queues, latencies, transfers):

- transit tap (offline): arrival -> gate bank queue -> tap at the terminal: the merchant prices it
  and applies its offline rule and the tap's effect on the card (``Merchant.tap``) -> record
  (the back office's clearing, ``Issuer.clear_offline``, is replay's and the live issuer's: the
  run's own records cannot fail it) -> the holder's next leg or step.
- scenic gate / government window (online): arrival -> window queue -> the merchant prices it
  (``Merchant.price_online``) and routes the authorisation to the issuer, through the hub across
  provinces (``Merchant.authorise``), where the issuer or its stand-in answers
  (``Issuer.respond``) -> record -> the terminal stays busy for the service time.
- loss reports: cards reported lost; issuers know at once, terminals once the blacklist reaches
  them (``cardsim.model.blacklist.Blacklist``).

Arrivals and loss reports come from a demand source (``cardsim.model.demand``): the scenario's
demand by default, or a trace of logged arrivals (``cardsim.audit.retime``), through the public
arrival methods of :class:`Simulation`.

Records are emitted in decision order, so ``seq`` follows ``sim_time``.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import simpy

from cardsim.domain import PROVINCES
from cardsim.model import collector
from cardsim.model.background import Background, Rates, phase_of
from cardsim.model.calendar import Calendar
from cardsim.model.card import CardPopulation, Card, parse_card_id, population_key
from cardsim.model.demand import DemandSource, ScenarioDemand
from cardsim.model.distributions import from_spec, sampler
from cardsim.model.places import Places, Point, all_points, daily_demand, terminal_id
from cardsim.model.merchant import Merchant
from cardsim.model.nodes import ONLINE_POINT, build_network
from cardsim.model.summary import build_metrics, build_summary
from cardsim.records.record import APPROVED, DECLINED, OFFLINE, ONLINE, TERMINAL, issuer_id_for, tx_id_for
from cardsim.config.schema import SERVICE_CHANNEL, SERVICE_TYPES
from cardsim.model.point_stats import PointWaits
from cardsim.model.service_point import GateBank, WindowBank
from cardsim.model.stats import Histogram
from cardsim.model.streams import Streams, derive, mix64

ISSUER_TIMEOUT = "issuer_timeout"
ISSUER_ID = {p: issuer_id_for(p) for p in PROVINCES}


class _PerPoint(dict):
    """``d[k]``: something of point k made by ``make(k)`` when first asked for (most of a city's
    12,000 bus stops see few card holders, or none)."""

    def __init__(self, make: Callable[[int], object]):
        super().__init__()
        self.make = make

    def __missing__(self, k: int):
        v = self[k] = self.make(k)
        return v


class ServicePoints:
    """All service points of one type in one province (:mod:`cardsim.model.places`), their
    queues, the other payers at gate banks (:mod:`cardsim.model.background`) and the merchant."""

    def __init__(self, env: simpy.Environment, cfg: dict, points: list[Point], streams: Streams,
                 merchant: Merchant, lo: float, hi: float):
        province, stype = merchant.province, merchant.service_type
        pcfg = cfg["provinces"][province]
        scfg = pcfg[stype]
        self.province = province
        self.stype = stype
        self.channel = SERVICE_CHANNEL[stype]
        self.online = self.channel != "transit"
        self.points = points
        self._service_dist = from_spec(scfg["service_time"])
        mean_service = self._service_dist.mean
        self.headway = scfg.get("headway_s", 0.0)
        self.spread = scfg.get("wave_spread_s", 0.0)
        self.phases = [phase_of(f"{province}/{stype}/{pt.name}", self.headway) for pt in points]
        # how long before a card holder a skipped wave's queue must be gone (0: none skipped)
        self.horizon = cfg["simulation"]["queue_horizon_s"] or math.inf
        if self.online:
            self.banks = [WindowBank(env, pt.terminals, lo, hi, mean_service) for pt in points]
        else:
            per_day, shape = daily_demand(cfg, province, stype)
            per_day *= 1.0 - pcfg["transit_card_share"]
            rates = Rates(np.asarray(shape, dtype=float) * (per_day / 900.0),  # per second
                          cfg["simulation"]["start_hour"] * 3600.0, hi, self._service_dist)
            # each point's own streams, for its other payers and its card holders' service times
            bg_key = streams.key(f"background/{province}/{stype}")
            sv_key = streams.key(f"service/{province}/{stype}")
            self.banks = [GateBank(pt.terminals, lo, hi,
                                   self._background(pt, rates, derive(bg_key, pt.name)),
                                   self._service_dist, derive(sv_key, pt.name))
                          for pt in points]
        self.patience = scfg["patience_s"]
        hours = int(hi // 3600.0) + 1
        self.waits = PointWaits(hours)   # every point's customers and balks (cardsim.model.scopes)
        self.terminal_ids = _PerPoint(self._terminal_ids)   # [point][terminal] -> its id
        # online service times: one stream per point, so one point's capacity leaves the others'
        # alone (a gate bank draws its own: GateBank.admit); made on a point's first customer
        self._streams = streams
        self.services = _PerPoint(self.service_sampler)
        self.merchant = merchant
        self.terminals = sum(pt.terminals for pt in points)

    def _background(self, pt: Point, rates: Rates, key: int) -> Background | None:
        """The other payers at a transit point: its share of the city's other payers' journeys."""
        if pt.share <= 0 or not rates.active:
            return None
        return Background(rates, pt.share, self.headway, self.phases[pt.index], self.spread, key,
                          self.horizon)

    def _terminal_ids(self, k: int) -> list[str]:
        return [terminal_id(self.province, self.stype, k, i) for i in range(self.points[k].terminals)]

    def service_sampler(self, k: int):
        """Point ``k``'s service-time sampler (its own stream, small first blocks)."""
        rng = self._streams.rng(f"service/{self.province}/{self.stype}/{self.points[k].name}")
        return sampler(self._service_dist, rng, first=16)

    def balk(self, now: float, warmup: float, point: int | None) -> None:
        """Count one customer who left ``point`` (None: the type has none) without a transaction."""
        self.waits.balk(point, now, warmup)

    def utilisation(self, span: float) -> float:
        if not self.banks or span <= 0:
            return 0.0
        return sum(b.busy for b in self.banks) / (self.terminals * span)

    def finish(self, end: float) -> None:
        """Admit the other payers still due before ``end`` (their load counts in utilisation)."""
        if not self.online:
            for bank in self.banks:
                bank.finish(end)


class Simulation:
    """One run of a scenario. ``sink(rows, marks)`` receives batches of record tuples in log order
    and the marks of the injected ones (seq -> mark, see :meth:`inject`); ``demand`` is where
    arrivals and loss reports come from (default: the scenario's demand)."""

    def __init__(self, scenario, sink: Callable[[list[tuple], dict[int, str]], None] | None = None,
                 seedseq=None, progress: Callable[[float], None] | None = None,
                 demand: DemandSource | None = None):
        collector.free_earlier_runs()
        with collector.paused():        # performance shortcut: see cardsim.model.collector
            self._build(scenario, sink, seedseq, progress, demand)

    def _build(self, scenario, sink, seedseq, progress, demand) -> None:
        cfg = scenario.config
        self.scenario = scenario
        self.cfg = cfg
        self.env = env = Calendar()
        sim = cfg["simulation"]
        self.duration = sim["duration_hours"] * 3600.0
        self.warmup = min(sim["warmup_hours"] * 3600.0, self.duration)
        self.start_hour = sim["start_hour"]
        self.batch_size = sim["batch_size"]
        self.sink = sink
        self.progress = progress
        self.demand = demand if demand is not None else ScenarioDemand()
        self.streams = streams = Streams(seedseq if seedseq is not None else scenario.seed)
        lo, hi = self.warmup, self.duration

        pcfgs = cfg["provinces"]
        self.population = {p: CardPopulation(p, pcfgs[p], population_key(streams, p))
                           for p in PROVINCES}
        self.network = net = build_network(env, cfg, streams, lo, hi)
        self.blacklist, self.issuers, self.hub = net.blacklist, net.issuers, net.hub
        self.point_table = all_points(cfg)
        self.places = Places(cfg, self.point_table)
        self.points = {p: {t: ServicePoints(env, cfg, self.point_table[p][t], streams,
                                            net.merchants[(p, t)], lo, hi)
                           for t in SERVICE_TYPES} for p in PROVINCES}
        self.trip_km = {p: sampler(from_spec(pcfgs[p]["metro"]["trip_km"]),
                                   streams.rng(f"trip_km/{p}")) for p in PROVINCES}
        #: scenic visits refused by a site's reservation cap: {province: {site: card visitors}}
        self.reservation_refused: dict = {p: {} for p in PROVINCES}
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

    # --- the public arrival methods a demand source calls ---------------------------------------

    def card(self, card_id: str) -> Card | None:
        """The card with this number (an active-pool card keeps its state across the run; one
        beyond the pool is a fresh one), or None for a malformed number."""
        parsed = parse_card_id(card_id) if isinstance(card_id, str) else None
        if parsed is None:
            return None
        prov, serial = parsed
        pop = self.population[prov]
        return pop.get(serial) if serial < pop.active else pop.peek(serial)

    def report_lost(self, card: Card) -> None:
        """The holder reports ``card`` lost now (a second report of the same card is ignored)."""
        if card.lost_at is None:
            card.lost_at = self.env.now
            self.lost.append((card.card_id, card.province, self.env.now))

    def point_count(self, prov: str, stype: str) -> int:
        """How many service points of type ``stype`` the province has."""
        return len(self.points[prov][stype].banks)

    def balk(self, prov: str, stype: str, point: int | None = None) -> None:
        """Count a customer who leaves a service point (``point``, if known) without joining
        its queue."""
        self.points[prov][stype].balk(self.env.now, self.warmup, point)

    def turns_away(self, prov: str, stype: str, point: int) -> bool:
        """True (and the customer balks) when the expected wait at an online point is beyond the
        customers' patience."""
        sp = self.points[prov][stype]
        if sp.patience and sp.banks[point].expected_wait() > sp.patience:
            sp.balk(self.env.now, self.warmup, point)
            return True
        return False

    # --- output -----------------------------------------------------------------------------

    def _count(self, now: float, channel: str, tprov: str, cprov: str, outcome: str,
               reason: str | None, amount: int) -> int:
        """Count one transaction decided at ``now`` in the summary's tally; returns its seq."""
        self.seq = seq = self.seq + 1
        key = (int(now // 3600.0), channel, tprov, cprov, outcome, reason)
        t = self.tally.get(key)
        if t is None:
            self.tally[key] = [1, amount]
        else:
            t[0] += 1
            t[1] += amount
        return seq

    def _emit(self, row_tail: tuple, channel: str, tprov: str, cprov: str, outcome: str,
              reason: str | None, amount: int) -> None:
        """Count one transaction and buffer its record for the sink."""
        seq = self._count(row_tail[0], channel, tprov, cprov, outcome, reason, amount)
        buffer = self.buffer
        # the terminal's unpredictable number: seeded, derived from the seq (no stream to keep)
        buffer.append((seq, tx_id_for(seq)) + row_tail + (mix64(self._un_key ^ seq) & 0xFFFFFFFF,))
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

    def arrive_transit(self, prov: str, mode: str, card: Card, point: int = 0,
                       km: float | None = None, then: Callable[[bool, float], None] | None = None
                       ) -> None:
        """A card holder reaches now the terminals of transit point ``point`` of ``mode`` (metro
        exit gates | bus validators) in ``prov``.

        ``km`` is the metro trip length (default: drawn from the scenario's ``trip_km``);
        ``then(approved, time)`` is called once the tap is decided (or the holder balked).
        """
        sp = self.points[prov][mode]
        if km is None and mode == "metro":
            km = self.trip_km[prov]()
        self.arrive_at(sp, point, card, km, then)

    def arrive_at(self, sp: ServicePoints, point: int, card: Card, km: float | None,
                  then: Callable[[bool, float], None] | None) -> None:
        """:meth:`arrive_transit` at point ``point`` of ``sp`` (the demand's fast path)."""
        now = self.env._now           # SimPy's ``now`` is a property: read on every tap
        start, i = sp.banks[point].admit(now, None, sp.patience)
        if i < 0:
            sp.balk(now, self.warmup, point)
            if then is not None:
                then(False, now)
            return
        job = (sp, point, i, card, now, sp.merchant.base_fare(km), then, km)
        if start <= now:
            self._tap(job)
        else:
            # one call per queued customer; no process (see service_point.GateBank)
            self.env.call_at(start, self._tap, job)

    def _tap(self, job: tuple) -> None:
        # the hottest function of a run: locals over attribute lookups, deliberately
        sp, k, i, card, arrival, base, then, km = job
        now = self.env._now
        prov, mode = sp.province, sp.stype
        card.atc += 1
        merchant = sp.merchant
        amount, conc, reason = merchant.tap(card, base, now)
        if reason is None:
            outcome = APPROVED
            # Performance shortcut: the back office's clearing (Issuer.clear_offline) is not run
            # here: a card's counter rises by one a transaction, so the run's own records cannot
            # fail it (a dict write a tap, and an entry for every card that transacted, for an
            # answer known in advance); replay and the live issuer clear every record they see
            if card.lost_at is not None or card.province != prov:
                self._settle(card, prov, amount, now)
        else:
            outcome = DECLINED
        sp.waits.wait(k, arrival, now)
        if self.sink is None:
            # performance shortcut: a run with no log (a planner's summary, a sweep) makes no
            # records, only counts them
            self._count(now, "transit", prov, card.province, outcome, reason, amount)
        else:
            self._emit((now, arrival, now - arrival, "transit", mode, card.card_id, card.province,
                        card.category, sp.terminal_ids[k][i], prov, merchant.merchant_id,
                        ISSUER_ID[card.province], amount, conc, card.atc, OFFLINE, outcome,
                        reason, TERMINAL, None, card.balance_fen, merchant.upload_time(now), km,
                        now),
                       "transit", prov, card.province, outcome, reason, amount)
        if then is not None:
            then(reason is None, now)

    # --- tourism and government (online) -----------------------------------------------------

    def arrive_online(self, prov: str, channel: str, card: Card, point: int, service: str,
                      then: Callable[[bool, float], None] | None = None) -> None:
        """A card holder joins now the queue of online service point ``point`` of ``channel``
        (tourism | government) in ``prov`` for ``service`` (the government item, or
        ``scenic_gate``); ``then(approved, time)`` is called when they leave the terminal.
        Whether they would rather balk is :meth:`turns_away`."""
        sp = self.points[prov][ONLINE_POINT[channel]]
        self.env.process(self._online_customer(sp, point, card, self.env.now, service, then))

    def _online_customer(self, sp: ServicePoints, k: int, card: Card, arrival: float, service: str,
                         then: Callable[[bool, float], None] | None):
        env = self.env
        bank = sp.banks[k]
        req = bank.resource.request()
        yield req
        i = bank.take()
        start = env.now
        prov, channel, merchant = sp.province, sp.channel, sp.merchant
        amount, conc = merchant.price_online(card, k)
        card.atc += 1
        atc = card.atc
        card.in_use = True
        issuer = self.issuers[card.province]
        auth = env.process(merchant.authorise(env, card, atc, amount, channel, self.issuers, self.hub))
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
        sp.waits.wait(k, arrival, start)
        if reason is None:
            outcome = APPROVED
            self._settle(card, prov, amount, now)
        else:
            outcome = DECLINED
        self._emit((now, arrival, start - arrival, channel, service, card.card_id, card.province,
                    card.category, sp.terminal_ids[k][i], prov, merchant.merchant_id,
                    ISSUER_ID[card.province], amount, conc, atc, ONLINE, outcome, reason,
                    authoriser, latency, None, merchant.upload_time(now), None, decided),
                   channel, prov, card.province, outcome, reason, amount)
        yield env.timeout(sp.services[k]())
        bank.add(start, env.now)
        bank.give_back(i)
        bank.resource.release(req)
        if then is not None:
            then(reason is None, env.now)

    # --- run ----------------------------------------------------------------------------------

    def _ticker(self, every: float):
        while True:
            yield self.env.timeout(every)
            self.progress(self.env.now)

    def run(self, attacker=None) -> dict:
        """Run to the scenario's end with arrivals from the demand source; returns the summary
        (see docs/summary.md). ``attacker``, an object whose ``process(env)`` is a SimPy process
        emitting records through :meth:`inject`, runs alongside (the API plugs in
        ``cardsim.attacks``; the model knows none)."""
        env = self.env
        t0 = time.perf_counter()
        self.demand.start(self)
        if self.progress is not None:
            env.process(self._ticker(self.duration / 200.0))
        if attacker is not None:
            env.process(attacker.process(env))
        with collector.paused():        # performance shortcut: see cardsim.model.collector
            env.run(until=self.duration)
            for by_type in self.points.values():
                for sp in by_type.values():
                    sp.finish(self.duration)
            self.flush()
            self.wall_seconds = time.perf_counter() - t0
            return self.summary()

    def summary(self) -> dict:
        """The run summary (see docs/summary.md)."""
        return build_summary(self)

    def metrics(self) -> list[tuple]:
        """The per-hour metric rows of the log's ``metrics`` table."""
        return build_metrics(self)
