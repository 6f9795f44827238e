"""`kb show` of one user law reads back only what it needs, through the same validator, and
shows what reading the whole store would show."""

import json
import sqlite3

import pytest

from kb import lookup, views
from kb.errors import KbError
from kb.schema import load_document, parse_toml

LAB = '''schema = 1
[source]
bibkey = "mylab2026"
title = "My lab's fits"
authors = ["A. Person"]
year = 2026
headline = { loss = "base" }
'''
LAW = '''
[[law]]
name = "{name}"
kind = "loss"
predicts = {{ symbol = "L", quantity = "loss", unit = "nats/token" }}
formula = "E + A / N**alpha"
location = "run {name}"
variables.N = {{ meaning = "parameters", unit = "params" }}
{extra}
'''
CONSTANTS = '''constants.E = {{ value = "1.{n}", location = "run {name}" }}
constants.A = {{ value = "400", location = "run {name}" }}
constants.alpha = {{ value = "0.3", location = "run {name}" }}
'''
OTHER = '''schema = 1
[source]
bibkey = "other2026"
title = "Another lab"
authors = ["B. Person"]
year = 2026
[[relation]]
from = "mine"
kind = "refits"
to = "mylab2026.fit3"
note = "same runs"
''' + LAW.format(name="mine", extra=CONSTANTS.format(n=9, name="mine"))


def lab_file(tmp_path, n=6, extra=None):
    text = LAB + LAW.format(name="base", extra=CONSTANTS.format(n=0, name="base"))
    for i in range(1, n):
        text += LAW.format(name=f"fit{i}", extra=(extra or {}).get(i, CONSTANTS.format(n=i, name=f"fit{i}")))
    path = tmp_path / "mylab2026.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_only_validates_the_law_and_what_it_needs(tmp_path):
    text = lab_file(tmp_path, extra={4: 'constants_from = "fit2"'}).read_text()
    data = parse_toml(text, "x")
    data["law"][5]["formula"] = "import os"  # a bad law that the partial read does not touch
    with pytest.raises(KbError):
        load_document(data, "x")
    source, laws = load_document(data, "x", only={"fit4"})
    assert [law.name for law in laws] == ["base", "fit2", "fit4"]  # headline, constants_from, the law
    assert source.headline_loss == "mylab2026.base"
    with pytest.raises(KbError, match="formula"):
        load_document(data, "x", only={"fit5"})


def test_show_of_one_law_equals_the_full_read(kb, tmp_path):
    assert kb("add", lab_file(tmp_path, extra={4: 'constants_from = "fit2"'})).code == 0
    other = tmp_path / "other2026.toml"
    other.write_text(OTHER, encoding="utf-8")
    assert kb("add", other).code == 0
    full = lookup.full_catalog()
    for ident in ("mylab2026.fit3", "mylab2026.fit4", "mylab2026", "other2026.mine", "MyLab2026.Fit3"):
        target, cat = lookup.resolve_in(ident)
        expected = full.resolve(ident)
        assert target == expected
        assert views.show_json(target, cat) == views.show_json(expected, full)
        r = kb("show", ident, "--json")
        assert r.code == 0 and r.json() == json.loads(json.dumps(views.strict(views.show_json(expected, full))))
    target, cat = lookup.resolve_in("mylab2026.fit3")
    assert views.show_json(target, cat)["related_from"][0]["from"] == "other2026.mine"


def test_a_bad_stored_law_is_refused_when_shown(kb, tmp_path):
    assert kb("add", lab_file(tmp_path)).code == 0
    db = tmp_path / "kb.sqlite"
    with sqlite3.connect(db) as conn:
        (document,) = conn.execute("SELECT document FROM kb_source WHERE bibkey = 'mylab2026'").fetchone()
        data = json.loads(document)
        data["law"][2]["formula"] = "__import__('os')"
        conn.execute("UPDATE kb_source SET document = ? WHERE bibkey = 'mylab2026'", (json.dumps(data),))
    assert kb("show", "mylab2026.fit1", "--json").code == 0  # fit2 is not read
    r = kb("show", "mylab2026.fit2")
    assert r.code == 2 and "mylab2026" in r.err and "Traceback" not in r.err
