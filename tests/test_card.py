from cardsim.model.card import CardPopulation, card_id_for, parse_card_id, population_key, population_keys
from cardsim.model.streams import Streams
from cardsim.config.scenario import loads


def population(key=1234, **over):
    pcfg = loads("").config["provinces"]["chongqing"]
    pcfg.update(over)
    return CardPopulation("chongqing", pcfg, key)


def test_card_ids():
    assert card_id_for("sichuan", 42) == "510000000042"
    assert card_id_for("chongqing", 7) == "500000000007"
    assert parse_card_id("510000000042") == ("sichuan", 42)
    assert parse_card_id("990000000042") is None
    assert parse_card_id("51x") is None


def test_lazy_and_order_independent():
    a, b = population(), population()
    serials = [5, 99, 1000, 3, 5]
    ca = [a.get(s) for s in serials]
    cb = [b.get(s) for s in reversed(serials)][::-1]
    assert [(c.card_id, c.category, c.balance_fen, c.atc, c.quota_left) for c in ca] == \
           [(c.card_id, c.category, c.balance_fen, c.atc, c.quota_left) for c in cb]
    assert len(a) == 4                      # only cards that transacted exist
    assert a.get(5) is a.get(5)


def test_categories_are_laid_out_by_serial_and_other_attributes_follow_the_config():
    pop = population(cards=20_000, senior_share=0.2, student_share=0.1, balance_min_fen=1000,
                     balance_max_fen=2000)
    cards = [pop.peek(i) for i in range(20_000)]
    assert [c.category for c in cards[3999:4001]] == ["senior", "student"]
    assert [c.category for c in cards[5999:6001]] == ["student", "adult"]
    assert sum(c.category == "senior" for c in cards) == 4000
    assert all(1000 <= c.balance_fen <= 2000 and c.balance_fen % 10 == 0 for c in cards)
    assert all(c.quota_left == 0 for c in cards if c.category != "senior")
    assert len(pop) == 0                    # peek does not register


def test_different_keys_give_different_cards():
    a, b = population(key=1), population(key=2)
    assert [a.peek(i).balance_fen for i in range(20)] != [b.peek(i).balance_fen for i in range(20)]


def test_card_id_is_derived():
    c = population().get(3)
    assert c.card_id == "500000000003" and c.province == "chongqing"


def test_each_holder_of_a_category_gets_a_card_of_its_own_from_its_range():
    pop = population(cards=10_007, senior_share=0.2, student_share=0.1)
    for cat, lo, n in (("senior", 0, 2001), ("student", 2001, 1000), ("adult", 3001, 7006)):
        serials = [pop.serial_for(cat, i) for i in range(n)]
        assert len(set(serials)) == n and min(serials) == lo and max(serials) == lo + n - 1
        assert all(pop.peek(s).category == cat for s in serials[:50])


def test_population_keys_are_one_per_seed_and_province():
    keys = population_keys(7)
    assert keys == {p: population_key(Streams(7), p) for p in ("sichuan", "chongqing")}
    assert keys["sichuan"] != keys["chongqing"] and keys != population_keys(8)


def test_a_block_s_cards_worked_out_at_once_are_the_cards_one_by_one():
    """The demand works out a block of holders' serials and starting values with numpy
    (``serial_for`` and ``attributes`` on arrays): the same as for each card alone."""
    import numpy as np
    pop = population(key=(1 << 64) - 12345, cards=50_000, senior_share=0.3, student_share=0.1,
                     balance_min_fen=30, balance_max_fen=99_990)
    for cat, n in (("senior", 15_000), ("student", 5_000), ("adult", 30_000), ("senior", 1)):
        idx = np.arange(0, n, 7, dtype=np.int64)
        assert pop.serial_for(cat, idx).tolist() == [pop.serial_for(cat, int(i)) for i in idx]
    serials = np.arange(14_900, 15_100, dtype=np.uint64)          # across the seniors' end
    made = list(zip(*(a.tolist() for a in pop.attributes(serials))))
    assert made == [pop.attributes(int(s)) for s in serials.tolist()]
    assert any(q > 0 for _b, _a, q in made) and made[-1][2] == 0
    fresh = population(key=(1 << 64) - 12345, cards=50_000, senior_share=0.3,
                       student_share=0.1, balance_min_fen=30, balance_max_fen=99_990)
    for s, m in zip(serials.tolist(), made):
        a, b = pop.get(s, m), fresh.peek(s)
        assert (a.category, a.balance_fen, a.atc, a.quota_left) == \
               (b.category, b.balance_fen, b.atc, b.quota_left)


def test_serials_of_a_huge_range_are_exact_on_arrays_too():
    """Past 3e9 cards of a category, int64 would wrap: the array form falls back to exact ints."""
    import numpy as np
    pop = population(key=99, cards=12_300_000_000, senior_share=0.0, student_share=0.0)
    idx = np.array([0, 4_366_500_000, 9_000_000_001, 12_299_999_999], dtype=np.int64)
    assert [int(s) for s in pop.serial_for("adult", idx)] == \
           [pop.serial_for("adult", int(i)) for i in idx]
