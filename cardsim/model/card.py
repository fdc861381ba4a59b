"""Cards and the card population of a province.

A province issues millions of cards, but a run touches only those whose holders travel. The
population is therefore lazy: a :class:`Card` is created the first time it is used, with attributes
drawn from a hash of (seed, province, card serial), so the same card gets the same balance and
counter whatever the order cards are first seen in. Memory grows with the cards that transact.

Serials are laid out by holder category: ``[0, seniors)`` are seniors' cards, the next
``students`` students', the rest adults'; a holder of a category is given a card from its range
(:meth:`CardPopulation.serial_for`), and anyone reading a log derives the same category from the
serial.
"""

from __future__ import annotations

import numpy as np

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

    # Memory: a run holds every card that transacted, so the card is kept small (~260 bytes).
    # Performance shortcut: the card number is made once (it goes into every record; formatting
    # it per record was 3% of a run) for some 60 bytes a card.
    __slots__ = ("province", "serial", "card_id", "category", "balance_fen", "atc", "quota_left",
                 "lost_at", "last_transit_t", "last_transit_mode", "in_use", "last_paid",
                 "last_transfer", "quota_year", "ext_left")

    def __init__(self, province: str, serial: int, category: str, balance_fen: int, atc: int,
                 quota_left: int, ext_left: int = 0):
        self.province = province
        self.serial = serial
        self.card_id = f"{PROVINCE_CODE[province]}{serial:010d}"
        self.category = category
        self.balance_fen = balance_fen
        self.atc = atc
        self.quota_left = quota_left
        self.lost_at: float | None = None
        self.last_transit_t = -1e18
        self.last_transit_mode = ""   # "province/mode" of the last approved transit tap
        self.in_use = False  # held at a terminal during an online transaction
        self.last_paid = 0            # what the last transit tap paid (caps a transfer discount)
        self.last_transfer = False    # the last transit tap was itself a transfer
        self.quota_year = 0           # the year quota_left counts for (0: the run's first year)
        self.ext_left = ext_left      # senior quota extensions left that year

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
    """The cards of one province: ``size`` issued, laid out by category (see module doc); a card
    is created when first used and kept for the run."""

    def __init__(self, province: str, pcfg: dict, key: int):
        self.province = province
        self.size = pcfg["cards"]
        #: serials at and beyond ``active`` were never issued to a holder (attacks bring them)
        self.active = self.size
        self._key = key
        self.seniors = int(self.size * pcfg["senior_share"])
        self.students = int(self.size * pcfg["student_share"])
        #: each category's serial range: (first serial, how many)
        self._ranges = {SENIOR: (0, self.seniors), STUDENT: (self.seniors, self.students),
                        ADULT: (self.seniors + self.students,
                                self.size - self.seniors - self.students)}
        self._bmin = pcfg["balance_min_fen"]
        self._bspan = pcfg["balance_max_fen"] - pcfg["balance_min_fen"]
        f = pcfg["fares"]
        self._quota = f["senior_quota_per_year"]
        self._extensions = f["senior_quota_extensions"]
        self._cards: dict[int, Card] = {}
        #: serials in the order first used (for loss reports and attacks picking a used card)
        self.order: list[int] = []

    def __len__(self) -> int:
        """Cards created so far (those that have transacted)."""
        return len(self._cards)

    def category(self, serial: int) -> str:
        return SENIOR if serial < self.seniors else STUDENT if serial < self.seniors + self.students else ADULT

    def serial_for(self, category: str, index):
        """The serial of the ``index``-th holder of ``category`` (a fixed permutation of the
        category's range, so holders' cards are spread over the range); of each, for an int64
        array of indices."""
        lo, n = self._ranges.get(category, self._ranges[ADULT])
        if n <= 0:
            raise ValueError(f"{self.province}: no {category} cards issued")
        if n > _INT64_SAFE and not isinstance(index, int):
            index = np.asarray(index).astype(object)      # int64 would wrap: Python ints
        # the stride reduced modulo n first (the same serial): index < n keeps int64 exact
        return lo + (index * (_STRIDE % n) + (self._key % n)) % n if n > 1 else lo + index * 0

    def attributes(self, serial):
        """(balance, counter, free rides) a card starts with, from a hash of (population key,
        serial): the one home of the rule, for a serial (ints) or a uint64 array of them
        (arrays, the same values: the operations are those of both)."""
        h = mix64(self._key ^ serial)
        # balances are whole 10-fen amounts, as top-ups are
        balance = self._bmin + (((h >> 32) & 0xFFFF) * self._bspan >> 16) // 10 * 10
        h2 = mix64(h)
        atc = 1 + h2 % 2000                      # cards have a history before the run
        quota = (h2 >> 16) % (self._quota + 1) * (serial < self.seniors)   # seniors' only
        return balance, atc, quota

    def get(self, serial: int, made: tuple[int, int, int] | None = None) -> Card:
        """The card with this serial (created on first use; ``made``: its :meth:`attributes`,
        if already worked out)."""
        card = self._cards.get(serial)
        if card is None:
            card = self._cards[serial] = self._make(serial, made)
            self.order.append(serial)
        return card

    def used(self, serial: int) -> Card | None:
        """The card with this serial if the run has used it, else None (creates nothing)."""
        return self._cards.get(serial)

    def peek(self, serial: int) -> Card:
        """A card's initial state, not registered (for replay and tests)."""
        return self._make(serial)

    def _make(self, serial: int, made: tuple[int, int, int] | None = None) -> Card:
        balance, atc, quota = made if made is not None else self.attributes(serial)
        return Card(self.province, serial, self.category(serial), balance, atc, quota,
                    self._extensions)


#: A stride coprime with any range size that matters here (a large prime), spreading holders'
#: cards over their category's serial range. Performance note: one multiply and modulo per card.
_STRIDE = 2_147_483_647
#: The largest range whose indices (each below it) times a stride below it fit in an int64.
_INT64_SAFE = 3_037_000_499
