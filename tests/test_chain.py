"""The hash chain and the tree: record hashes (Merkle leaf hashes) independent of position, links,
signed tree heads."""

from hypothesis import given, strategies as st

from cardsim import merkle as M
from cardsim.records import encoding as E
from cardsim.log.chain import Chain


def rows(n, start=1):
    return [(s, f"T{s:010d}", float(s)) for s in range(start, start + n)]


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_link_is_the_encoded_link_message(head, rh):
    assert E.link(head, rh) == E.sha256(E.encode(E.LINK, (head, rh)))


def test_extend_links_records_and_checkpoints_every_n():
    c = Chain(b"g" * 32, 3, lambda m: b"sig:" + E.sha256(m))
    out = c.extend(rows(4)) + c.extend(rows(3, 5))
    head = b"g" * 32
    for r in out:
        assert r[-2] == head and r[-1] == M.leaf_hash(E.record_message(r[:-2]))
        head = E.link(head, r[-1])
    assert c.head == head and c.count == 7
    cps = c.take()
    assert [cp.count for cp in cps] == [3, 6] and c.take() == []
    assert [cp.sim_time for cp in cps] == [3.0, 6.0]                  # the last chained record's
    leaves = [r[-1] for r in out]
    assert [cp.root for cp in cps] == [M.root(leaves[:3]), M.root(leaves[:6])]
    final = c.checkpoint(7.0, final=1)
    root = M.root(leaves)
    assert final[:6] == (3, 7, head, root, 7.0, 1)
    assert final.signature == b"sig:" + E.sha256(E.checkpoint_message(b"g" * 32, 7, head, root,
                                                                      7.0, 1))


def test_record_hash_is_the_merkle_leaf_hash_of_the_record_message():
    r = rows(1)[0]
    assert E.record_hash(r) == M.leaf_hash(E.record_message(r)) == Chain(b"g" * 32, 9, None).extend([r])[0][-1]


def test_a_record_hash_does_not_depend_on_the_records_before_it():
    a = Chain(b"a" * 32, 100, None).extend(rows(5))
    b = Chain(b"b" * 32, 100, None).extend(rows(5))
    assert [r[-1] for r in a] == [r[-1] for r in b]          # same content, same record hashes
    assert [r[-2] for r in a] != [r[-2] for r in b]          # different chains


def test_blocks_of_leaves_are_stored_as_their_roots():
    from cardsim.log.chain import BLOCK
    c = Chain(b"g" * 32, 700, None)
    out = []
    for start in range(1, 2 * BLOCK + 300, 333):
        out += c.extend(rows(min(333, 2 * BLOCK + 300 - start), start))
    blocks = c.take_blocks()
    leaves = [r[-1] for r in out]
    assert [b[0] for b in blocks] == [0, 1] and c.take_blocks() == []
    assert [b[1] for b in blocks] == [M.root(leaves[:BLOCK]), M.root(leaves[BLOCK:2 * BLOCK])]
