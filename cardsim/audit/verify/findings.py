"""What verification finds: one :class:`Finding` per failure, a :class:`Tally` of every check,
and the :class:`Report` a verification returns."""

from __future__ import annotations

from dataclasses import dataclass, field

CHECKS = ("format", "sequence", "chain", "checkpoints", "certificates", "card_certificate",
          "card_validity", "revocation", "card_signature", "issuer_signature", "atc",
          "terminal_certificate", "uploads", "merchant_totals", "blacklist", "card_state",
          "consistency", "witness")
#: Detailed findings kept (the first, in seq order); counts are always complete.
MAX_FINDINGS = 100_000


@dataclass(frozen=True, order=True)
class Finding:
    """One failed check: about a record (``seq``, ``tx_id``) or the log as a whole (``seq`` 0)."""

    seq: int            # 0 for findings about the log as a whole (checkpoints, certificates)
    check: str
    reason: str
    tx_id: str | None = None

    def as_dict(self) -> dict:
        return {"seq": self.seq or None, "tx_id": self.tx_id, "check": self.check, "reason": self.reason}


@dataclass
class Tally:
    """Passes and failures per check, and the first :data:`MAX_FINDINGS` findings."""

    passed: dict = field(default_factory=lambda: {c: 0 for c in CHECKS})
    failed: dict = field(default_factory=lambda: {c: 0 for c in CHECKS})
    findings: list = field(default_factory=list)

    def ok(self, check: str, n: int = 1) -> None:
        self.passed[check] += n

    def fail(self, check: str, reason: str, seq: int = 0, tx_id: str | None = None) -> None:
        """Count a failure; ``seq`` and ``tx_id`` of the wrong type (a tampered row) are left out."""
        self.failed[check] += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(seq if isinstance(seq, int) else 0, check, reason,
                                         tx_id if isinstance(tx_id, str) else None))

    def merge(self, other: "Tally") -> None:
        for c in CHECKS:
            self.passed[c] += other.passed[c]
            self.failed[c] += other.failed[c]
        self.findings.extend(other.findings)


@dataclass(frozen=True)
class Report:
    """The outcome of verifying one log; ``ok`` when it is signed and no check failed."""

    path: str
    records: int
    passed: dict
    failed: dict
    findings: tuple
    findings_truncated: bool
    signed: bool
    algorithm: str | None
    #: One line to read before the counts: a wrong root, a run that did not complete (or None).
    headline: str | None = None
    #: The log was made under another root than the trusted one (the record checks were skipped).
    wrong_root: bool = False

    @classmethod
    def of(cls, path: str, records: int, t: Tally, signed: bool, algorithm: str | None,
           headline: str | None = None, wrong_root: bool = False) -> "Report":
        """The report of a tally: findings in seq order, the first :data:`MAX_FINDINGS` of them."""
        kept = sorted(t.findings)[:MAX_FINDINGS]
        return cls(path, records, t.passed, t.failed, tuple(kept),
                   sum(t.failed.values()) > len(kept), signed, algorithm, headline, wrong_root)

    @property
    def ok(self) -> bool:
        return self.signed and not any(self.failed.values())

    def as_dict(self) -> dict:
        return {"log": self.path, "ok": self.ok, "records": self.records, "signed": self.signed,
                "algorithm": self.algorithm, "headline": self.headline, "wrong_root": self.wrong_root,
                "checks": {c: {"passed": self.passed[c], "failed": self.failed[c]} for c in CHECKS},
                "failures": sum(self.failed.values()),
                "findings": [f.as_dict() for f in self.findings],
                "findings_truncated": self.findings_truncated}
