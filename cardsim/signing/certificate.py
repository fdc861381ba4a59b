"""A certificate row of a log: a compact card or terminal certificate, or an X.509 one."""

from __future__ import annotations

from typing import NamedTuple


class Certificate(NamedTuple):
    """One row of the log's ``certificates`` table, in its column order (a tuple, so it is
    inserted as it is). ``body`` is the signed message (``encoding.CARD_CERT`` or
    ``TERMINAL_CERT``; for ``x509`` the DER certificate) and ``signature`` the issuer's over it
    (None for ``x509``, whose signature is inside the DER)."""

    subject: str          # card number, terminal id or key name
    kind: str             # card | terminal | x509
    issuer: str           # the key name that signed it
    algorithm: str
    body: bytes
    signature: bytes | None
