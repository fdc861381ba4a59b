"""Terminal uploads: the batch rule shared by the log writer and the verifier, and the terminal's
signature (its key certified by its merchant)."""

import pytest

from cardsim.records import encoding as E
from cardsim.signing.keys import KeyRing, merchant_name
from cardsim.records.record import COLUMN_NAMES, Record
from cardsim.signing.upload import Batches, TerminalSigner

#: A log id (a genesis hash) for the terminals to sign under.
LOG_ID = E.genesis_hash("{}", 1)

_BLANK = Record(*[None] * len(COLUMN_NAMES))


def row(seq, terminal, uploaded_at, merchant="sichuan-metro"):
    return _BLANK._replace(seq=seq, terminal_id=terminal, uploaded_at=uploaded_at,
                           merchant_id=merchant, record_hash=E.sha256(str(seq).encode()))


def test_batches_close_in_upload_time_then_terminal_order():
    b = Batches()
    b.add_rows([row(1, "B", 900.0), row(2, "A", 900.0), row(3, "B", 900.0), row(4, "A", 1800.0)])
    assert b.close(900.0) == []                       # not yet later than the upload time
    closed = b.close(900.5)
    assert [(c.terminal_id, c.uploaded_at, c.seqs) for c in closed] == [("A", 900.0, [2]),
                                                                         ("B", 900.0, [1, 3])]
    assert closed[1].record_hashes == [E.sha256(b"1"), E.sha256(b"3")]
    assert closed[1].merchant_id == "sichuan-metro"
    b.add("A", 1800.0, "sichuan-metro", 5, b"h")
    assert [(c.terminal_id, c.uploaded_at, c.seqs) for c in b.close(None)] == [("A", 1800.0, [4, 5])]
    assert b.open == {}


def test_immediate_uploads_close_once_time_moves_on():
    b = Batches()                                      # upload_interval_s = 0: uploaded_at = sim_time
    b.add_rows([row(1, "W", 10.0), row(2, "W", 10.0)])
    assert b.close(10.0) == [] and len(b.close(10.1)) == 1


@pytest.fixture(scope="module")
def ring(keys_dir):
    return KeyRing.load(keys_dir)


def test_terminal_signs_its_batch_and_its_merchant_certifies_it(ring):
    signer = TerminalSigner(ring, LOG_ID)
    b = Batches()
    b.add_rows([row(1, "SC-MET-001-01", 900.0), row(2, "SC-MET-001-01", 900.0),
                row(3, "SC-MET-001-02", 900.0)])
    uploads, certs = signer.sign(b.close(None))
    assert [u[0] for u in uploads] == [1, 2] and [u[5] for u in uploads] == [2, 1]
    assert [u[3] for u in uploads] == [1, 1]                 # each terminal's first upload
    assert [c[0] for c in certs] == ["SC-MET-001-01", "SC-MET-001-02"]
    alg = ring.algorithm
    merchant_pub = ring.certs[merchant_name("sichuan-metro")].public_key()
    for (tid, kind, issuer, algname, body, sig), up in zip(certs, uploads):
        assert kind == "terminal" and issuer == "merchant-sichuan-metro" and algname == alg.name
        assert alg.verify(merchant_pub, sig, body)
        role, (t2, merchant, _a, pub, nb, na) = E.decode(body)
        assert role == E.TERMINAL_CERT and t2 == tid and merchant == "sichuan-metro" and nb < na
        _n, utid, umerchant, unum, at, count, digest, usig = up
        msg = E.upload_message(LOG_ID, utid, umerchant, unum, at, count, digest)
        assert alg.verify(alg.load_public(pub), usig, msg)
        assert not alg.verify(alg.load_public(pub), usig, E.upload_message(
            LOG_ID, utid, umerchant, unum, at, count + 1, digest))
        assert not alg.verify(alg.load_public(pub), usig, E.upload_message(     # another log's
            E.sha256(b"another log"), utid, umerchant, unum, at, count, digest))
    # a terminal is certified once per log; its key is the same every time (derived)
    b.add_rows([row(4, "SC-MET-001-01", 1800.0)])
    again, more = signer.sign(b.close(None))
    assert more == [] and again[0][0] == 3 and again[0][3] == 2    # the terminal's second upload
    totals = {r[0]: r for r in signer.merchant_totals(["sichuan-metro", "chongqing-bus"], 7200.0)}
    assert totals["sichuan-metro"][1:4] == (2, 3, 4)       # 2 terminals, 3 uploads, 4 records
    assert totals["sichuan-metro"][4] == E.terminals_digest([("SC-MET-001-01", 2, 3),
                                                             ("SC-MET-001-02", 1, 1)])
    assert totals["chongqing-bus"][1:4] == (0, 0, 0)        # a merchant with nothing uploaded
    assert alg.verify(merchant_pub, totals["sichuan-metro"][5],
                      E.merchant_totals_message(LOG_ID, 7200.0, "sichuan-metro",
                                                *totals["sichuan-metro"][1:5]))
    assert not alg.verify(merchant_pub, totals["sichuan-metro"][5],         # a shorter period
                          E.merchant_totals_message(LOG_ID, 3600.0, "sichuan-metro",
                                                    *totals["sichuan-metro"][1:5]))
    assert TerminalSigner(ring, LOG_ID).sign([("SC-MET-001-01", 900.0, "sichuan-metro", [1, 2],
                                       [E.sha256(b"1"), E.sha256(b"2")])])[0][0] == uploads[0]


def test_terminal_keys_differ_by_terminal_and_merchant(ring):
    from cardsim.signing.keys import terminal_keys
    a = terminal_keys(ring, "sichuan-metro").get("X-1")[1]
    assert a != terminal_keys(ring, "sichuan-metro").get("X-2")[1]
    assert a != terminal_keys(ring, "chongqing-metro").get("X-1")[1]
    assert a == terminal_keys(ring, "sichuan-metro").get("X-1")[1]
