"""What `kb add` accepts, the store reads back (issue 11, item 6).

One validator (`schema.load_document`) checks packaged files, `kb add` input and documents
read back from a shared store. Each hostile file below was accepted before and then broke
`kb list` / `check` / `report` for every user of the store, or could not be stored at all; now
`kb add` refuses it (exit 2, one line) and the store stays usable. The property test at the end
generates law files: whatever the validator accepts round-trips through the store unchanged.
"""

import json
import sqlite3
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import formula as formula_lang
from kb.catalog import published
from kb.errors import KbError
from kb.schema import load_document, parse_toml

GOOD = '''schema = 1
[source]
bibkey = "mylab2026"
title = "Our refit"
year = 2026
headline = { loss = "loss" }

[[law]]
name = "loss"
kind = "loss"
predicts = { symbol = "L", quantity = "loss", unit = "nats/token" }
formula = "E + A / N**alpha"
location = "Table 1"
variables.N = { meaning = "parameters", unit = "params", fitted = ["1e8", "1e10"] }
constants.E = { value = "1.8", location = "Table 1" }
constants.A = { value = "400", location = "Table 1" }
constants.alpha = { value = "0.34", location = "Table 1" }
[[law.check]]
location = "Table 1"
expr = "law(N=1e9)"
expect = "2.15"
tolerance = { abs = "0.1" }
'''

SECOND = '''
[[law]]
name = "{name}"
kind = "rule"
predicts = {{ symbol = "R", quantity = "ratio", unit = "" }}
formula = "20 + 0*x"
location = "Sec 2"
variables.x = {{ meaning = "anything", unit = "" }}
'''

HOSTILE = {
    "schema is a float": (GOOD.replace("schema = 1", "schema = 1.0"), "schema"),
    "schema is a boolean": (GOOD.replace("schema = 1", "schema = true"), "schema"),
    "year is a boolean": (GOOD.replace("year = 2026", "year = true"), "year"),
    "year beyond integer range": (GOOD.replace("year = 2026", "year = 99999999999999999999"), "year"),
    "year beyond the range of a year": (GOOD.replace("year = 2026", "year = 20260"), "year"),
    "formula nested too deep": (GOOD.replace('formula = "E + A / N**alpha"',
                                             f'formula = "E + A / {"-" * (formula_lang.MAX_DEPTH + 5)}N**alpha"'),
                                "nested deeper"),
    "formula of a long power tower": (GOOD.replace('formula = "E + A / N**alpha"',
                                                   f'formula = "E + A / N{"**alpha" * 80}"'), "nested deeper"),
    "NUL in a title": (GOOD.replace('title = "Our refit"', 'title = "Our\\u0000refit"'), "control character"),
    "terminal escape in a location": (GOOD.replace('location = "Table 1"\nvariables',
                                                   'location = "\\u001b[2J Table 1"\nvariables'), "control character"),
    "NUL in a tag": (GOOD.replace('location = "Table 1"\nvariables', 'location = "T1"\ntags = ["a\\u0000"]\nvariables'),
                     "control character"),
    "name with a trailing newline": (GOOD.replace('name = "loss"', 'name = "loss\\n"')
                                     .replace('loss = "loss"', 'loss = "loss\\n"'), "not a valid name"),
    "bibkey with a trailing newline": (GOOD.replace('bibkey = "mylab2026"', 'bibkey = "mylab2026\\n"'), "bibkey"),
    "variable with a trailing newline": (GOOD.replace("variables.N", 'variables."N\\n"'), "not a valid name"),
    "alias with a trailing newline": (GOOD.replace('kind = "loss"', 'kind = "loss"\naliases = ["old\\n"]'),
                                      "not a valid name"),
    "constant beyond a float": (GOOD.replace('value = "400"', 'value = "1e400"'), "range of a double"),
    "fitted range beyond a float": (GOOD.replace('fitted = ["1e8", "1e10"]', 'fitted = ["1e8", "1e999"]'), "range of a double"),
    "expected value beyond a float": (GOOD.replace('expect = "2.15"', 'expect = "-1e309"'), "range of a double"),
    "names equal up to case": (GOOD + SECOND.format(name="Loss"), "collides"),
    "alias equal to another name up to case": (
        GOOD.replace('kind = "loss"', 'kind = "loss"\naliases = ["Ratio"]') + SECOND.format(name="ratio"), "collides"),
    "condition that is not text": (GOOD.replace('location = "Table 1"\nvariables',
                                                'location = "T1"\nconditions = { dataset = 3 }\nvariables'), "condition"),
    "date where text belongs": (GOOD.replace('title = "Our refit"', "title = 2026-01-01"), "title"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_validator_refuses(case):
    text, words = HOSTILE[case]
    with pytest.raises(KbError, match=words) as info:
        load_document(parse_toml(text, "x.toml"), "x.toml", origin="user")
    assert "\n" not in str(info.value)


def test_the_good_file_is_accepted():
    source, laws = load_document(parse_toml(GOOD, "x.toml"), "x.toml", origin="user")
    assert [law.id for law in laws] == ["mylab2026.loss"]


def test_formula_depth_limit_is_one_constant_on_both_sides():
    names = {"x"}
    deep = "-" * (formula_lang.MAX_DEPTH - 3) + "x"
    formula_lang.parse(deep, names)  # just inside the limit
    with pytest.raises(KbError, match=f"deeper than {formula_lang.MAX_DEPTH}"):
        formula_lang.parse("-" * (formula_lang.MAX_DEPTH + 1) + "x", names)
    with pytest.raises(KbError, match=f"deeper than {formula_lang.MAX_DEPTH}"):
        formula_lang.parse("x" + "**x" * formula_lang.MAX_DEPTH, names)


@pytest.mark.parametrize("case", ["schema is a float", "year is a boolean", "year beyond integer range",
                                  "NUL in a title", "name with a trailing newline", "names equal up to case",
                                  "formula nested too deep", "constant beyond a float"])
def test_kb_add_refuses_and_the_store_stays_usable(kb, tmp_path, case):
    path = tmp_path / "mylab2026.toml"
    path.write_text(HOSTILE[case][0], encoding="utf-8")
    r = kb("add", path)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r.err
    r = kb("list", "--json")
    assert r.code == 0, r.err
    assert r.json()["count"] == len(published().laws)
    assert kb("check", "--json").code == 0


def test_a_bad_row_in_a_shared_store_breaks_nobody(kb, tmp_path):
    """A document the validator refuses, written into the store by other means (an older kb, a
    hand edit): every command still works, with a warning naming the row."""
    good = tmp_path / "mylab2026.toml"
    good.write_text(GOOD, encoding="utf-8")
    assert kb("add", good).code == 0
    db = tmp_path / "kb.sqlite"
    bad = parse_toml(GOOD.replace("mylab2026", "other2026"), "x")
    bad["law"][0]["name"] = "loss\n"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO kb_source (bibkey, short, title, authors, year, arxiv, origin, verified, document) "
                     "VALUES ('other2026', 'o', 't', '', 2026, '', 'user', 1, ?)", (json.dumps(bad, default=str),))
    for args in (["check", "--json"], ["report", "--out", tmp_path / "site"]):
        r = kb(*args)
        assert r.code == 0, (args, r.err)
        assert "other2026" in r.err and "Traceback" not in r.err
    # showing one law reads back its own source only: the bad row is not read, so not named...
    r = kb("show", "mylab2026.loss", "--json")
    assert r.code == 0 and r.json()["id"] == "mylab2026.loss" and "Traceback" not in r.err, r.err
    # ...until it is asked for: refused with the warning, never shown
    r = kb("show", "other2026.loss")
    assert r.code == 2 and "other2026" in r.err and "Traceback" not in r.err, r.err
    assert kb("list", "--json").json()["count"] == len(published().laws) + 1


# ----------------------------------------------------------------------------- round trip

def mostly(good, hostile):
    """`good` eleven times in twelve, else `hostile`: most files are accepted, some are not."""
    return st.integers(0, 11).flatmap(lambda i: hostile if i == 0 else good)


_any_text = st.text(st.characters(codec="utf-8"), max_size=12)  # control characters included
_text = mostly(st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12), _any_text)
_name = mostly(st.one_of(st.sampled_from(["loss", "Loss", "fit_1", "L"]),
                         st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)),
               st.one_of(_any_text, st.sampled_from(["loss\n", "log", "1x"])))
_number = mostly(st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
                 st.one_of(st.sampled_from(["1e400", "-1e-5", "1E9", " 7", "nan", "0x10"]), _any_text,
                           st.integers(-10**25, 10**25), st.booleans()))


@st.composite
def law_files(draw):
    laws = []
    for i in range(draw(st.integers(1, 3))):
        law = {"name": draw(_name), "kind": draw(st.sampled_from(["loss", "rule", "qualitative"])),
               "title": draw(_text), "location": draw(_text),
               "predicts": {"symbol": draw(_name), "quantity": draw(_text), "unit": draw(_text)},
               "tags": draw(st.lists(_text, max_size=2)), "aliases": draw(st.lists(_name, max_size=2))}
        if law["kind"] != "qualitative" or draw(st.booleans()):
            law["formula"] = draw(st.sampled_from(["a * x**b", "a + " * draw(st.integers(0, 70)) + "x",
                                                   "-" * draw(st.integers(0, 70)) + "x", "log(x) + a"]))
            law["variables"] = {"x": {"meaning": draw(_text), "unit": draw(_text)}}
            law["constants"] = {s: {"value": draw(_number), "location": draw(_text)} for s in ("a", "b")}
            if draw(st.booleans()):
                law["conditions"] = {draw(_text): draw(mostly(_text, st.integers()))}
        laws.append(law)
    return {"schema": draw(mostly(st.just(1), st.sampled_from([True, Decimal("1.0"), 2]))),
            "source": {"bibkey": draw(mostly(st.just("gen2026"), st.sampled_from(["gen2026\n", "Gen2026"]))),
                       "title": draw(_text),
                       "year": draw(mostly(st.integers(1900, 2999), st.one_of(st.booleans(), st.integers()))),
                       "authors": draw(st.lists(_text, max_size=2))},
            "law": laws}


@pytest.fixture(scope="module")
def round_trip_store(tmp_path_factory):
    from kb.store import Store

    return Store(f"sqlite:///{tmp_path_factory.mktemp('rt') / 'rt.sqlite'}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(law_files())
def test_what_add_accepts_reads_back_the_same(round_trip_store, document):
    from kb import check, views

    try:
        source, laws = load_document(document, "gen.toml", origin="user")
    except KbError as exc:
        assert "\n" not in str(exc)
        return
    store = round_trip_store
    store.add_document(document, "gen.toml", replace=True)
    users = store.user_catalog()  # what every other user of the store reads: through the validator
    assert users.sources[source.bibkey] == source
    assert [users.laws[law.id] for law in laws] == laws
    listed = {s.id: s for s in store.summaries(source=source.bibkey)}
    assert list(listed) == [law.id for law in laws]
    assert all(listed[law.id].title == law.title and listed[law.id].kind == law.kind for law in laws)
    everything = published().merged(users)
    json.dumps(views.list_json(laws))  # kb list --json
    for law in laws:
        json.dumps(views.show_json(law, everything))  # kb show --json
        check.run_all([law])  # kb check: outcomes, never an exception
