"""A small independent checker of signed logs for the tests: recomputes every signature, the chain,
the checkpoints and the terminals' uploads from the stored columns and the root certificate alone
(the uploads grouped by SQL, not by cardsim's own batch code)."""

import sqlite3

from cryptography import x509

from cardsim.config.scenario import from_config_json
from cardsim.records import encoding as E
from cardsim.signing.crypto import ALGORITHMS
from cardsim.records.record import COLUMN_NAMES


def merkle_root(hashes: list) -> bytes:
    """RFC 9162's MTH over leaf hashes, written out independently of cardsim.merkle."""
    if not hashes:
        return E.sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return E.sha256(b"\x01" + merkle_root(hashes[:k]) + merkle_root(hashes[k:]))


def check(path, root_pem: bytes) -> dict:
    con = sqlite3.connect(path)
    run = con.execute("SELECT config_json, seed, algorithm FROM runs").fetchone()
    alg = ALGORITHMS[run[2]]
    root = x509.load_pem_x509_certificate(root_pem)
    cas = {}
    for subject, body in con.execute("SELECT subject, body FROM certificates WHERE kind='x509'"):
        c = x509.load_der_x509_certificate(body)
        c.verify_directly_issued_by(root)
        cas[subject] = c.public_key()
    cards = {}
    for subject, issuer, body, sig in con.execute(
            "SELECT subject, issuer, body, signature FROM certificates WHERE kind='card'"):
        assert alg.verify(cas[issuer], sig, body), subject
        _, vals = E.decode(body)
        cards[subject] = alg.load_public(vals[3])
    i = {n: k for k, n in enumerate(COLUMN_NAMES)}
    head = log_id = E.genesis_hash(run[0], run[1])
    scenario = from_config_json(run[0], str(path))
    epoch, end = scenario.epoch, float(scenario.duration_s)
    n = 0
    leaves = []
    for row in con.execute("SELECT * FROM transactions ORDER BY seq"):
        n += 1
        assert row[i["seq"]] == n
        request = tuple(epoch if f == "epoch" else row[i[f]] for f in E.CARD_REQUEST_FIELDS)
        response_hash = None
        if row[i["authoriser"]] in ("issuer", "standin"):
            signer = "hub" if row[i["authoriser"]] == "standin" else row[i["issuer_id"]]
            resp = E.auth_response_message(signer, row[i["outcome"]], row[i["reason"]],
                                           row[i["authoriser"]], row[i["decided_at"]],
                                           E.sha256(E.card_request_message(*request)))
            assert alg.verify(cas[signer], row[i["issuer_sig"]], resp), n
            response_hash = E.sha256(resp)
        else:
            assert row[i["issuer_sig"]] is None
        msg = E.card_tx_message(request, row[i["outcome"]], row[i["reason"]], row[i["authoriser"]],
                                row[i["balance_fen"]], response_hash)
        assert alg.verify(cards[row[i["card_id"]]], row[i["card_sig"]], msg), n
        assert row[i["prev_hash"]] == head, n
        rh = E.sha256(b"\x00" + E.record_message(row[:-2]))      # its Merkle leaf hash
        leaves.append(rh)
        assert row[i["record_hash"]] == rh, n
        head = E.sha256(E.encode(E.LINK, (head, rh)))
    heads = {}
    final = None
    for number, count, chead, root, t, fin, signer, sig in con.execute(
            "SELECT * FROM checkpoints ORDER BY checkpoint"):
        msg = E.checkpoint_message(log_id, count, chead, root, t, fin)
        assert alg.verify(cas[signer], sig, msg)
        assert root == merkle_root(leaves[:count])
        heads[count] = chead
        if fin:
            final = count
    blocks = con.execute("SELECT block, root FROM tree_blocks ORDER BY block").fetchall()
    assert [b for b, _ in blocks] == list(range(len(leaves) // 1024))
    assert all(r == merkle_root(leaves[1024 * b:1024 * b + 1024]) for b, r in blocks)
    terminals = {}
    for subject, issuer, body, sig in con.execute(
            "SELECT subject, issuer, body, signature FROM certificates WHERE kind='terminal'"):
        assert alg.verify(cas[issuer], sig, body), subject
        _, vals = E.decode(body)
        assert vals[0] == subject and issuer == f"merchant-{vals[1]}"
        terminals[subject] = (vals[1], alg.load_public(vals[3]))
    uploaded = 0
    numbers = {}
    for number, tid, merchant, unum, at, count, digest, sig in con.execute(
            "SELECT * FROM uploads ORDER BY upload"):
        assert terminals[tid][0] == merchant
        assert alg.verify(terminals[tid][1], sig,
                          E.upload_message(log_id, tid, merchant, unum, at, count, digest))
        assert unum == numbers.get(tid, 0) + 1, (tid, unum)        # 1, 2, ... per terminal
        numbers[tid] = unum
        hashes = [r[0] for r in con.execute("SELECT record_hash FROM transactions WHERE terminal_id=? "
                                            "AND uploaded_at=? ORDER BY seq", (tid, at))]
        assert len(hashes) == count and E.records_digest(hashes) == digest, number
        uploaded += count
    for merchant, terms, ups, recs, digest, sig in con.execute("SELECT * FROM merchant_totals"):
        mine = [(tid, k, con.execute("SELECT coalesce(sum(count), 0) FROM uploads WHERE terminal_id = ?",
                                     (tid,)).fetchone()[0])
                for tid, k in numbers.items() if terminals[tid][0] == merchant]
        assert (terms, ups, recs) == (len(mine), sum(m[1] for m in mine), sum(m[2] for m in mine))
        assert digest == E.terminals_digest(mine)
        assert alg.verify(cas[f"merchant-{merchant}"], sig,
                          E.merchant_totals_message(log_id, end, merchant, terms, ups, recs, digest))
    con.close()
    return {"records": n, "head": head, "checkpoint_heads": heads, "final": final,
            "uploaded": uploaded}
