import pytest
from hypothesis import given, settings, strategies as st

from cardsim.config import schema
from cardsim.config.checks import check_value
from cardsim.errors import ScenarioError
from cardsim.config.scenario import load, loads, parse_set

from conftest import SCENARIOS


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_load(path):
    sc = load(path)
    assert sc.config["simulation"]["duration_hours"] > 0
    assert sc.name == path.stem


def test_defaults_fill_every_key():
    sc = loads("")
    for path in schema.KEY_INDEX:
        schema.get_path(sc.config, path)  # raises if missing


def err(text, **kw):
    with pytest.raises(ScenarioError) as e:
        loads(text, source="x.toml", **kw)
    return str(e.value)


def test_unknown_key_is_an_error_with_suggestion():
    msg = err("[demand.transit]\ntransfer_shar = 5\n")
    assert msg == ("x.toml: demand.transit.transfer_shar: unknown key "
                   "(did you mean demand.transit.transfer_share?)")


def test_unknown_table():
    assert err("[nonsense]\na = 1\n") == "x.toml: nonsense: unknown key"


def test_bounds_message_names_file_key_and_value():
    assert err("[provinces.sichuan.metro]\njourneys_per_day = -5\n") == \
        "x.toml: provinces.sichuan.metro.journeys_per_day: must be >= 0, got -5"


def test_wrong_types():
    assert "must be an integer, got 1.5" in err("[provinces.sichuan]\ncards = 1.5\n")
    assert "must be a number, got 'a'" in err('[simulation]\nduration_hours = "a"\n')
    assert "must be true or false" in err("[provinces.sichuan.fares]\nsenior_free_rides = 1\n")
    assert "must be one of 'flat', 'banded'" in err('[provinces.sichuan.metro]\nfare_rule = "zone"\n')
    assert "must have 96 items, got 3" in err("[demand.profiles]\nother = [1, 2, 3]\n")
    assert "must be a table of keys" in err("simulation = 3\n")


def test_distribution_validation():
    assert "lognormal needs cv" in err('[provinces.sichuan.metro]\nservice_time = { dist = "lognormal", mean = 2 }\n')
    assert "dist must be one of" in err('[provinces.sichuan.metro]\nservice_time = { dist = "weibull", mean = 2 }\n')
    assert "takes mean, not cv" in err('[provinces.sichuan.metro]\nservice_time = { dist = "exponential", mean = 2, cv = 1 }\n')


def test_windows_validation():
    assert "start < end" in err("[provinces.sichuan.issuer]\noutages = [[9, 7]]\n")


def test_cross_key_rules():
    assert "senior_share + student_share must be <= 1" in err(
        "[provinces.sichuan]\nsenior_share = 0.6\nstudent_share = 0.6\n")
    assert "one more than band_km" in err("[provinces.sichuan.metro]\nband_fare_fen = [1, 2]\n")
    assert "must be >= 1 (or name the points in `named`)" in err(
        "[provinces.chongqing.bus]\npoints = 0\n")


def test_invalid_toml_names_line():
    msg = err("[simulation\n")
    assert msg.startswith("x.toml: invalid TOML:") and "line 1" in msg


def test_missing_and_directory(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load(tmp_path)
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load(p)


def test_set_overrides_and_validates():
    sc = loads("", sets=["provinces.sichuan.issuer.standin=limit",
                         "provinces.sichuan.metro.service_time.mean=3",
                         "provinces.sichuan.issuer.outages=[[1, 2]]"])
    assert sc.config["provinces"]["sichuan"]["issuer"]["standin"] == "limit"
    assert sc.config["provinces"]["sichuan"]["metro"]["service_time"]["mean"] == 3.0
    assert sc.config["provinces"]["sichuan"]["issuer"]["outages"] == [[1.0, 2.0]]
    assert err("", sets=["demand.transit.peak=1"]).startswith("--set demand.transit.peak: unknown key")
    assert err("", sets=["simulation.seed=-1"]) == "--set simulation.seed: must be >= 0, got -1"
    assert err("", sets=["novalue"]) == "--set novalue: expected key.path=value"


def test_parse_set_reads_toml_values_or_strings():
    assert parse_set("a.b=1") == ("a.b", 1)
    assert parse_set("a.b=1.5") == ("a.b", 1.5)
    assert parse_set("a.b=true") == ("a.b", True)
    assert parse_set("a.b=limit") == ("a.b", "limit")


def test_scale_multiplies_population_and_demand_only():
    base, big = loads(""), loads("", scale=10)
    assert big.config["provinces"]["sichuan"]["cards"] == 10 * base.config["provinces"]["sichuan"]["cards"]
    assert big.config["provinces"]["sichuan"]["metro"]["journeys_per_day"] == 10 * base.config["provinces"]["sichuan"]["metro"]["journeys_per_day"]
    assert big.config["provinces"]["sichuan"]["metro"]["points"] == base.config["provinces"]["sichuan"]["metro"]["points"]
    assert "--scale: must be a number > 0" in err("", scale=0)


def test_seed_override():
    assert loads("", seed=42).seed == 42
    assert "--seed" in err("", seed=-3)


NUMERIC = [k for k in schema.KEY_INDEX.items() if k[1].kind in ("int", "float")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NUMERIC),
       st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=5), st.booleans()))
def test_any_value_is_accepted_or_rejected_naming_the_key(item, value):
    path, key = item
    try:
        sc = loads("", sets=[f"{path}={value!r}" if isinstance(value, str) else
                             f"{path}={str(value).lower()}"])
    except ScenarioError as e:
        assert path in str(e)
        return
    v = schema.get_path(sc.config, path)
    if key.min is not None:
        assert v >= key.min
    if key.max is not None:
        assert v <= key.max


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text):
    try:
        loads(text, source="f.toml")
    except ScenarioError as e:
        assert str(e).startswith("f.toml")


def test_start_date():
    sc = loads('[simulation]\nstart_date = 2021-08-17\n')
    assert sc.config["simulation"]["start_date"] == "2021-08-17"
    assert sc.epoch == 1629129600          # 2021-08-17 00:00 China Standard Time
    assert "must be a date YYYY-MM-DD" in err('[simulation]\nstart_date = "17/08/2021"\n')


@pytest.mark.parametrize("kind, value, expected", [
    ("int", True, (None, "must be an integer, got true")),
    ("int", 7, (7, None)),
    ("float", 2, (2.0, None)),
    ("float", float("nan"), (None, "must be a number, got nan")),
    ("float", 11.0, (None, "must be <= 10, got 11.0")),
    ("ints", [1, 2.5], (None, "item 1 must be an integer, got 2.5")),
    ("ints", [1, -2], (None, "item 1 must be a number >= 0, got -2")),
    ("floats", [1, 2], ([1.0, 2.0], None)),
    ("floats", [1, 2, 3], (None, "must have 2 items, got 3")),
    ("date", "2025-02-30", (None, "must be a date YYYY-MM-DD, got '2025-02-30'")),
    ("windows", [[1, 2], [3]], (None, "item 1 must be [start_hour, end_hour] with 0 <= start < end, got [3]")),
    ("windows", [[1, 2]], ([[1.0, 2.0]], None)),
    ("distribution", {"dist": "uniform", "low": 3, "high": 1},
     (None, "uniform needs low <= high, got low=3, high=1")),
    ("distribution", {"dist": "gamma", "mean": 1, "cv": 0},
     (None, "gamma needs cv > 0 (use deterministic for no variation)")),
])
def test_each_key_kind_is_checked(kind, value, expected):
    key = schema.Key("x", kind, None, "", "", min=0, max=10, length=2 if kind == "floats" else None)
    assert check_value(key, value) == expected
