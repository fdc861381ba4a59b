#!/usr/bin/env python3
"""Writes tests/vectors/vectors.json: inputs, encodings (hex), keys and signatures for every
message role, for both algorithms. The keys here are test keys made from fixed seeds; they sign
nothing but these vectors. tests/test_vectors.py recomputes every entry.

Run from the repository root: python tests/vectors/make_vectors.py
"""

import json
from pathlib import Path

from cardsim import merkle as M
from cardsim.records import encoding as E
from cardsim.signing.crypto import ALGORITHMS

SEEDS = {"card": bytes(range(32)), "issuer": bytes(range(32, 64)), "hub": bytes(range(64, 96)),
         "merchant": bytes(range(96, 128)), "terminal": bytes(range(128, 160))}
#: who signs each role (the seed of its key)
REPORTS = [("510000000777", 43200.5), ("510000000042", 3600.0)]   # digested sorted by card
SIGNER = {"card_tx": "card", "auth_response": "issuer", "card_cert": "issuer", "checkpoint": "hub",
          "terminal_cert": "merchant", "upload": "terminal", "blacklist": "issuer",
          "merchant_totals": "merchant", "card_state": "hub"}
CARD_STATES = [("510000000042", 17, 4500, 0, 2026, 0), ("500000000007", 1203, 80, 12, 2026, 998)]


def key(alg, who):
    k = ALGORITHMS[alg].from_seed(SEEDS[who])
    pub = ALGORITHMS[alg].public_bytes(k if hasattr(k, "public") else k.public_key())
    return k, pub


def build() -> dict:
    # an online scenic ticket: the card's request, the issuer's answer over its hash, the card's
    # TC over the answer's hash; the run's calendar start (epoch) is 2021-08-17 00:00 +08:00
    request = ["510000000042", 1208, 12000, "SC-SCN-001-02", 3735928559, 1629129600, 29240.5,
               "tourism", "scenic_gate", "online"]
    request_hash = E.sha256(E.card_request_message(*request))
    response = ["issuer-sichuan", "approved", None, "issuer", 29240.25, request_hash]
    response_hash = E.sha256(E.auth_response_message(*response))
    card_tx = request + ["approved", None, "issuer", None, response_hash]
    record_values = [7, "T0000000007", 29234.125, 29230.5, 3.625, "transit", "metro",
                     "510000000042", "sichuan", "adult", "SC-MET-003-05", "sichuan",
                     "sichuan-metro", "issuer-sichuan", 300, None, 1207, "offline", "approved",
                     None, "terminal", None, 4700, 29700.0, 7.25, 29234.125, 3735928559, b"\x01" * 64, None]
    out = {"format": E.LOG_FORMAT, "roles": E.ROLE_NAMES and {str(k): v for k, v in E.ROLE_NAMES.items()},
           "seeds_hex": {k: v.hex() for k, v in SEEDS.items()}, "vectors": []}
    genesis = E.genesis_hash('{"example":true}', 20210817)
    out["genesis"] = {"config_json": '{"example":true}', "seed": 20210817, "hash_hex": genesis.hex()}
    previous = E.sha256(E.checkpoint_message(genesis, 10000, bytes(range(32)), bytes(range(32, 64)),
                                             86400.0, 1))
    out["genesis_after"] = {"config_json": '{"example":true}', "seed": 20210818,
                            "previous_hex": previous.hex(),
                            "hash_hex": E.genesis_hash('{"example":true}', 20210818, previous).hex()}
    out["card_request"] = {"values": _jsonable(request),
                           "encoding_hex": E.card_request_message(*request).hex(),
                           "request_hash_hex": request_hash.hex()}
    rec = E.record_message(record_values)
    rh = E.sha256(b"\x00" + rec)                  # the Merkle leaf hash of the record message
    out["record"] = {"values": _jsonable(record_values), "encoding_hex": rec.hex(),
                     "record_hash_hex": rh.hex()}
    link = E.encode(E.LINK, (genesis, rh))
    out["link"] = {"head_before_hex": genesis.hex(), "record_hash_hex": rh.hex(),
                   "encoding_hex": link.hex(), "head_after_hex": E.sha256(link).hex()}
    hashes = [rh, bytes(range(32))]
    leaves = [rh] + [E.sha256(bytes([0, i])) for i in range(1, 7)]      # a 7-leaf tree
    out["merkle"] = {"leaf_hashes_hex": [h.hex() for h in leaves],
                     "root_hex": M.root(leaves).hex(),
                     "inclusion": {"index": 0, "tree_size": 7,
                                   "proof_hex": [p.hex() for p in M.inclusion_proof(leaves, 0)]},
                     "consistency": {"size1": 3, "size2": 7, "root1_hex": M.root(leaves[:3]).hex(),
                                     "proof_hex": [p.hex() for p in M.consistency_proof(leaves, 3)]}}
    out["loss_reports_digest"] = {"reports": [list(r) for r in REPORTS],
                                  "encodings_hex": [E.encode(E.LOSS_REPORT, r).hex() for r in sorted(REPORTS)],
                                  "digest_hex": E.loss_reports_digest(REPORTS).hex()}
    tt = [("SC-MET-003-05", 33, 600), ("SC-MET-001-01", 7, 634)]
    out["terminals_digest"] = {"totals": [list(x) for x in tt],
                               "encodings_hex": [E.encode(E.TERMINAL_TOTAL, x).hex() for x in sorted(tt)],
                               "digest_hex": E.terminals_digest(tt).hex()}
    out["card_states_digest"] = {"rows": [list(r) for r in CARD_STATES],
                                 "encodings_hex": [E.encode(E.CARD_STATE_ROW, r).hex()
                                                   for r in sorted(CARD_STATES)],
                                 "digest_hex": E.card_states_digest(CARD_STATES).hex()}
    out["records_digest"] = {"record_hashes_hex": [h.hex() for h in hashes],
                             "digest_hex": E.records_digest(hashes).hex()}
    for alg in ALGORITHMS:
        A = ALGORITHMS[alg]
        ck, cpub = key(alg, "card")
        ik, ipub = key(alg, "issuer")
        hk, hpub = key(alg, "hub")
        msg = E.card_tx_message(tuple(request), *card_tx[len(request):])
        auth = E.auth_response_message(*response)
        cert = E.card_cert_body("510000000042", "sichuan", alg, cpub, 1500000000, 1815360000,
                                "issuer-sichuan")
        cp = E.checkpoint_message(genesis, 10000, bytes(range(32)), bytes(range(32, 64)), 86400.0, 1)
        mk, mpub = key(alg, "merchant")
        tk, tpub = key(alg, "terminal")
        tcert = ["SC-MET-003-05", "sichuan-metro", alg, tpub, 1577836800, 2208988800]
        digest = E.records_digest([rh, bytes(range(32))])
        upload = [genesis, "SC-MET-003-05", "sichuan-metro", 33, 29700.0, 2, digest]
        totals = [genesis, 86400.0, "sichuan-metro", 2, 40, 1234,
                  E.terminals_digest([("SC-MET-003-05", 33, 600), ("SC-MET-001-01", 7, 634)])]
        blacklist = [genesis, 86400.0, "issuer-sichuan", "sichuan", 2,
                     E.loss_reports_digest(REPORTS)]
        states = [genesis, 86400.0, 2, E.card_states_digest(CARD_STATES)]
        for role, signer, pub, values, data in (
                ("card_tx", ck, cpub, card_tx, msg),
                ("auth_response", ik, ipub, response, auth),
                ("card_cert", ik, ipub, ["510000000042", "sichuan", alg, cpub, 1500000000, 1815360000, "issuer-sichuan"], cert),
                ("checkpoint", hk, hpub, [genesis, 10000, bytes(range(32)), bytes(range(32, 64)), 86400.0, 1], cp),
                ("terminal_cert", mk, mpub, tcert, E.terminal_cert_body(*tcert)),
                ("upload", tk, tpub, upload, E.upload_message(*upload)),
                ("blacklist", ik, ipub, blacklist, E.blacklist_message(*blacklist)),
                ("merchant_totals", mk, mpub, totals, E.merchant_totals_message(*totals)),
                ("card_state", hk, hpub, states, E.card_state_message(*states))):
            out["vectors"].append({"algorithm": alg, "role": role, "values": _jsonable(values),
                                   "encoding_hex": data.hex(), "public_key_hex": pub.hex(),
                                   "signature_hex": A.sign(signer, data).hex()})
    return out


def _jsonable(values):
    return [{"bytes_hex": v.hex()} if isinstance(v, bytes) else v for v in values]


if __name__ == "__main__":
    path = Path(__file__).with_name("vectors.json")
    path.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {path}")
