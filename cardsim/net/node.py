"""What a live node loads from a log (or a scenario file): its scenario (rules, stand-in
policies, outages), the loss reports, the nodes built from them (:class:`cardsim.audit.replay.Nodes`, as in-process replay
builds them), the card checks, and its own signing key.

:class:`PresentedCards` is verify's record checker (:class:`RecordChecker`) fed the certificate
a request presents instead of the log's: the card's certificate checked under its issuer's key
(itself checked to the trusted root), its validity and the card's cryptogram, one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from cardsim.audit.replay import Nodes, read_log_scenario
from cardsim.audit.verify import Context, RecordChecker, Tally, record_context
from cardsim.audit.verify.primitives import fast_verifier, verifier_keys
from cardsim.config.scenario import Scenario
from cardsim.config.scenario import load as load_scenario
from cardsim.domain import PROVINCES
from cardsim.errors import CardsimError
from cardsim.log.store import open_log
from cardsim.model.card import parse_card_id
from cardsim.net.messages import AuthRequest
from cardsim.records.encoding import CARD_REQUEST, ENCODERS, sha256
from cardsim.records.record import Record
from cardsim.signing.crypto import ALGORITHMS
from cardsim.signing.keys import KeyRing, issuer_name, load_trust_anchor, role_problem
from cardsim.signing.signer import auth_message, card_request

#: Presented certificates kept per card (a performance shortcut: the issuer's signature over a
#: card's certificate is checked once per card, not per request); cleared when full.
MAX_CARDS = 200_000


class PresentedCards(RecordChecker):
    """The checks of the card in a request: reason to decline, or None."""

    def __init__(self, ctx):
        # RecordChecker's state for these checks, without its connection to a log: the
        # certificate comes with the request
        self.alg = ALGORITHMS[ctx.algorithm]
        self.ctx = ctx
        self.ca = verifier_keys(ctx.ca_keys, self.alg)
        self.verify = fast_verifier(self.alg)
        self.cards: dict = {}
        self.presented: dict[str, tuple] = {}

    def status(self, req: AuthRequest) -> str | None:
        province = parse_card_id(req.card_id)[0]
        cert = (req.cert_body, req.cert_sig)
        got = self.presented.get(req.card_id)
        if got is None or got[0] != cert:
            if len(self.presented) >= MAX_CARDS:
                self.presented.clear()
            got = self.presented[req.card_id] = (cert, self._card_key(req.card_id, province, *cert))
        self.cards = {req.card_id: got[1]}
        return self.merchant_status(req.row)


@dataclass
class NodeState:
    """Everything one node process holds."""

    scenario: Scenario
    nodes: Nodes
    cards: PresentedCards
    ring: KeyRing
    epoch: int

    def __post_init__(self):
        # Performance shortcut: each signing key is made once (an Ed25519 key's libsodium form
        # costs a key derivation), not per answer
        self._signing = {n: self.ring.algorithm.signing_key(k) for n, k in self.ring.private.items()}

    @property
    def algorithm(self):
        return self.ring.algorithm

    def sign_answer(self, rec: Record, key_name: str) -> bytes:
        """The signature of ``key_name`` over the auth_response message of the decided record
        ``rec`` (outcome, reason, authoriser, decided_at), bound to the card's request: the bytes
        ``signing.signer`` signs in the simulation."""
        request_hash = sha256(ENCODERS[CARD_REQUEST](card_request(rec, self.epoch)))
        return self.ring.algorithm.sign(self._signing[key_name], auth_message(rec, request_hash))


def load_node(log: str | Path | None, keys_dir: str | Path, key_names: list[str],
              passphrase: bytes | None = None, scenario: str | Path | None = None) -> NodeState:
    """The state of a node started from the log at ``log`` (or from the scenario file
    ``scenario``) with the private keys ``key_names``."""
    if (log is None) == (scenario is None):
        raise CardsimError("give --log or --scenario (one of them)")
    if scenario is not None:
        return _from_scenario(scenario, keys_dir, key_names, passphrase)
    path = str(log)
    conn = open_log(path)
    try:
        run, sc = read_log_scenario(conn, path)
        if run.get("signed") != 1 or run.get("algorithm") not in ALGORITHMS:
            raise CardsimError(f"{path}: not a signed log (run with keys): a node needs its "
                               "certificates")
        reports = {c: t for c, t in conn.execute("SELECT card_id, reported_at FROM blacklist")
                   if type(c) is str and type(t) is float}
        ctx = record_context(conn, path, ALGORITHMS[run["algorithm"]], sc,
                             load_trust_anchor(keys_dir), Tally())
    finally:
        conn.close()
    ring = KeyRing.load(keys_dir, passphrase, names=key_names)
    if ring.algorithm.name != run["algorithm"]:
        raise CardsimError(f"{keys_dir}: keys are {ring.algorithm.name}, the log is "
                           f"{run['algorithm']}")
    return NodeState(sc, Nodes(sc, sc, reports), PresentedCards(ctx), ring, sc.epoch)


def _from_scenario(path, keys_dir, key_names, passphrase) -> NodeState:
    """A node configured from a scenario file: its rules, outages and cards, no loss reports (a
    scenario's losses happen in a run), and the issuers' certificates from the keys directory,
    each checked to the trusted root."""
    sc = load_scenario(path)
    ring = KeyRing.load(keys_dir, passphrase, names=key_names)
    root = load_trust_anchor(keys_dir)
    ca = {}
    for province in PROVINCES:
        name = issuer_name(province)
        cert = ring.certs[name]
        try:
            cert.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            raise CardsimError(f"{keys_dir}/{name}.pem: not issued by the trusted root") from None
        if role_problem(cert, name) is not None:
            raise CardsimError(f"{keys_dir}/{name}.pem: {role_problem(cert, name)}")
        ca[name] = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    pcfg = sc.config["provinces"]
    ctx = Context("", ring.algorithm.name, ca, sc.epoch,
                  {p: pcfg[p]["blacklist_push_delay_s"] for p in PROVINCES},
                  {p: pcfg[p]["blacklist_push_interval_s"] for p in PROVINCES},
                  {p: [(a * 3600.0, b * 3600.0) for a, b in pcfg[p]["issuer"]["outages"]]
                   for p in PROVINCES})
    return NodeState(sc, Nodes(sc, sc, {}), PresentedCards(ctx), ring, sc.epoch)
