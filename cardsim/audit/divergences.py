"""What replay reports about each record it decides: divergences (with the record's card,
terminal, time, service and amount), the revenue a what-if changes per province and channel, a
card's story, and the ``--diff-out`` CSV file.

Every value taken from a log is untrusted: it is kept as a plain JSON value (:func:`plain`), and
a CSV cell that starts like a spreadsheet formula is written as text (:func:`cell`).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from cardsim.domain import CHANNELS, PROVINCES
from cardsim.errors import CardsimError
from cardsim.files import create_new
from cardsim.records.record import INDEX

#: The record fields a divergence and a story entry carry, for the reader.
CONTEXT = ("card_id", "terminal_id", "sim_time", "channel", "service", "terminal_province",
           "amount_fen")
_AT = tuple(INDEX[c] for c in CONTEXT)


def plain(v):
    """A value from a log as a plain JSON value (anything else as its repr)."""
    return v if v is None or type(v) in (str, int, float) else repr(v)


def context_of(row) -> dict:
    """The record's card, terminal, time, service and amount (plain values; {} without a row)."""
    if row is None or len(row) <= max(_AT):
        return {}
    return {c: plain(row[i]) for c, i in zip(CONTEXT, _AT)}


@dataclass(frozen=True)
class Divergence:
    seq: int
    tx_id: str
    kind: str                 # outcome | reason | amount
    node: str                 # the node whose replayed decision differs: merchant | issuer | terminal
    recorded: tuple           # (outcome, reason, charged_fen)
    replayed: tuple
    context: tuple = ()       # (field, value) pairs of CONTEXT

    def as_dict(self) -> dict:
        r, p = self.recorded, self.replayed
        return {"seq": self.seq, "tx_id": self.tx_id, **dict(self.context), "kind": self.kind,
                "node": self.node,
                "recorded": {"outcome": r[0], "reason": r[1], "charged_fen": r[2]},
                "replayed": {"outcome": p[0], "reason": p[1], "charged_fen": p[2]}}


class RevenueChange:
    """What the replayed decisions charge minus what was recorded, per terminal province and
    channel, in fen (a value from the log that is not a known province or channel counts as
    ``other``)."""

    def __init__(self) -> None:
        self.fen = {p: dict.fromkeys(CHANNELS, 0) for p in PROVINCES}
        self.other = 0

    def add(self, ctx: dict, recorded: int, replayed: int) -> None:
        if type(recorded) is not int or type(replayed) is not int:
            return
        p, c = ctx.get("terminal_province"), ctx.get("channel")
        if p in self.fen and c in self.fen[p]:
            self.fen[p][c] += replayed - recorded
        else:
            self.other += replayed - recorded

    def as_dict(self) -> dict:
        """Yuan: ``{province: {channel: change, "total": change}, "other": change, "total": change}``."""
        out: dict = {p: {**{c: v / 100 for c, v in chans.items()}, "total": sum(chans.values()) / 100}
                     for p, chans in self.fen.items()}
        out["other"] = self.other / 100
        out["total"] = (sum(sum(ch.values()) for ch in self.fen.values()) + self.other) / 100
        return out


def story_entry(seq, tx_id, ctx: dict, recorded: tuple, replayed: tuple, node: str) -> dict:
    """One record of a card's story: what it was, what was recorded, what replay decides."""
    return {"seq": plain(seq), "tx_id": plain(tx_id), **ctx,
            "recorded": {"outcome": recorded[0], "reason": recorded[1], "charged_fen": recorded[2]},
            "replayed": {"outcome": replayed[0], "reason": replayed[1], "charged_fen": replayed[2],
                         "node": node},
            "same": tuple(recorded) == tuple(replayed)}


def cell(v):
    """A CSV cell a spreadsheet shows as text: a text from the log that starts like a formula
    (``=``, ``+``, ``-``, ``@``, tab, CR) gets a leading apostrophe (OWASP's CSV-injection advice)."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


class DiffWriter:
    """All divergences to CSV, streamed (not capped), written to a temporary name and renamed at
    the end so a partial file never looks complete. An existing file is replaced only with
    ``force`` (``--force``)."""

    FIELDS = ("seq", "tx_id", *CONTEXT, "kind", "node", "recorded_outcome", "recorded_reason",
              "recorded_charged_fen", "replayed_outcome", "replayed_reason", "replayed_charged_fen")

    def __init__(self, path, force: bool = False):
        self.path = Path(path)
        if not self.path.parent.exists():
            raise CardsimError(f"--diff-out {path}: directory {self.path.parent} does not exist")
        if (self.path.exists() or self.path.is_symlink()) and not force:
            raise CardsimError(f"--diff-out {path}: exists (use --force to replace it)")
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.tmp.unlink(missing_ok=True)          # a stale one (or a link planted there) goes
        self.f = os.fdopen(create_new(self.tmp, 0o644, "divergence file"), "w", newline="",
                           encoding="utf-8")
        self.w = csv.writer(self.f)
        self.w.writerow(self.FIELDS)

    def write(self, d: Divergence) -> None:
        ctx = dict(d.context)
        self.w.writerow([cell(v) for v in (d.seq, d.tx_id, *(ctx.get(c) for c in CONTEXT), d.kind,
                                           d.node, *d.recorded, *d.replayed)])

    def close(self, completed: bool) -> None:
        self.f.close()
        if completed:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)
