"""Cards and their holders, and the card population of a province.

A province issues millions of cards, but a run touches only those that transact. The population is
therefore lazy: a :class:`Card` is created the first time it is used, with attributes drawn from a
hash of (seed, province, card serial), so the same card gets the same holder category, balance and
counter whatever the order cards are first seen in. Memory grows with the cards that transact.
"""

from __future__ import annotations

from cardsim.domain import PROVINCES
from cardsim.model.streams import Streams, mix64

ADULT, SENIOR, STUDENT = "adult", "senior", "student"

#: Administrative division codes (GB/T 2260) used as the first two digits of card numbers.
PROVINCE_CODE = {"sichuan": "51", "chongqing": "50"}
CODE_PROVINCE = {v: k for k, v in PROVINCE_CODE.items()}


class Card:
    """One card: what the chip holds (balance, ATC, free-ride quota) and the holder's category.

    ``lost_at`` is the simulated time the holder reported the card lost (None if never).
    """

    # Memory: a run holds every card that transacted, so the card is kept small (~200 bytes):
    # the card number is derived from (province, serial) on demand rather than stored.
    __slots__ = ("province", "serial", "category", "balance_fen", "atc", "quota_left",
                 "lost_at", "last_transit_t", "last_transit_mode", "in_use")

    def __init__(self, province: str, serial: int, category: str, balance_fen: int, atc: int,
                 quota_left: int):
        self.province = province
        self.serial = serial
        self.category = category
        self.balance_fen = balance_fen
        self.atc = atc
        self.quota_left = quota_left
        self.lost_at: float | None = None
        self.last_transit_t = -1e18
        self.last_transit_mode = ""
        self.in_use = False  # held at a terminal during an online transaction

    @property
    def card_id(self) -> str:
        return f"{PROVINCE_CODE[self.province]}{self.serial:010d}"

    def __repr__(self) -> str:  # never includes key material: cards hold none here
        return f"Card({self.card_id}, {self.category}, balance={self.balance_fen}, atc={self.atc})"


#: Cards are valid ten years from issue (documented assumption).
CARD_VALIDITY_S = 10 * 365 * 86400


def card_validity(key: int, serial: int, epoch: int) -> tuple[int, int]:
    """(not_before, not_after) in unix seconds of a card's certificate: issued on a day within the
    nine years before ``epoch`` (the scenario's start), valid ten years, so every card is valid
    for at least a year of simulated time. Derived like the card's other attributes."""
    days = mix64(mix64(mix64(key ^ serial)) ^ 0xCA7D) % (9 * 365)
    not_before = epoch - (days + 1) * 86400
    return not_before, not_before + CARD_VALIDITY_S


def card_id_for(province: str, serial: int) -> str:
    return f"{PROVINCE_CODE[province]}{serial:010d}"


def parse_card_id(card_id: str) -> tuple[str, int] | None:
    """(province, serial) of a well-formed card number, else None."""
    if len(card_id) != 12 or not card_id.isdigit() or card_id[:2] not in CODE_PROVINCE:
        return None
    return CODE_PROVINCE[card_id[:2]], int(card_id[2:])


def population_key(streams: Streams, province: str) -> int:
    """The key a province's cards are derived from: the one home of the population stream's name.

    The simulation, replay and the record signers (which derive each card's key pair from it)
    must agree on it."""
    return streams.key(f"cards/{province}")


def population_keys(seed: int) -> dict[str, int]:
    """Every province's population key for a scenario's ``seed``."""
    streams = Streams(seed)
    return {p: population_key(streams, p) for p in PROVINCES}


class CardPopulation:
    """The cards of one province: ``size`` issued, ``active`` of them transacting in this run."""

    def __init__(self, province: str, pcfg: dict, key: int):
        self.province = province
        self.size = pcfg["cards"]
        self.active = max(1, min(self.size, round(self.size * pcfg["active_share"])))
        self._key = key
        self._senior = pcfg["senior_share"]
        self._student = pcfg["senior_share"] + pcfg["student_share"]
        self._bmin = pcfg["balance_min_fen"]
        self._bspan = pcfg["balance_max_fen"] - pcfg["balance_min_fen"]
        f = pcfg["fares"]
        self._quota_span = f["senior_quota_per_year"] + f["senior_quota_extension"] + 1
        # one slot per card of the active pool (8 bytes each), filled on first use
        self._cards: list[Card | None] = [None] * self.active
        self.created = 0

    def __len__(self) -> int:
        """Cards created so far (those that have transacted)."""
        return self.created

    def get(self, serial: int) -> Card:
        """The card with this serial, which must be in the active pool [0, active)."""
        card = self._cards[serial]
        if card is None:
            card = self._cards[serial] = self._make(serial)
            self.created += 1
        return card

    def used(self, serial: int) -> Card | None:
        """The card with this serial if the run has used it, else None (creates nothing)."""
        return self._cards[serial]

    def peek(self, serial: int) -> Card:
        """A card's initial state, not registered (for replay and tests)."""
        return self._make(serial)

    def _make(self, serial: int) -> Card:
        h = mix64(self._key ^ serial)
        u = (h & 0xFFFFFFFF) / 4294967296.0
        category = SENIOR if u < self._senior else STUDENT if u < self._student else ADULT
        # balances are whole 10-fen amounts, as top-ups are
        balance = self._bmin + (((h >> 32) & 0xFFFF) * self._bspan >> 16) // 10 * 10
        h2 = mix64(h)
        atc = 1 + h2 % 2000                      # cards have a history before the run
        quota = (h2 >> 16) % self._quota_span if category == SENIOR else 0
        return Card(self.province, serial, category, balance, atc, quota)
