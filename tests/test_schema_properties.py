"""Property tests: the one validator never crashes on a mangled law file; it accepts or it
raises KbError with a one-line message."""

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from kb.errors import KbError
from kb.schema import load_document, parse_toml

BASE = parse_toml((ROOT / "laws" / "kaplan2020.toml").read_text(), "kaplan2020.toml")

junk = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                 st.text(max_size=30), st.lists(st.text(max_size=5), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))


def paths(doc, prefix=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield prefix + (k,)
            yield from paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield prefix + (i,)
            yield from paths(v, prefix + (i,))


ALL_PATHS = list(paths(BASE))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), st.booleans(), junk), min_size=1, max_size=4))
def test_mangled_documents_are_accepted_or_refused_cleanly(edits):
    doc = copy.deepcopy(BASE)
    for path, delete, value in edits:
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if delete:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        load_document(doc, "mangled.toml", origin="user")
    except KbError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_is_not_a_crash(text):
    try:
        load_document(parse_toml(text, "x.toml"), "x.toml")
    except KbError as exc:
        assert "\n" not in str(exc)


SHORT = parse_toml('''schema = 1
[source]
bibkey = "short2026"
title = "Laws in the shortcut's shape"
year = 2026
[[law]]
name = "fit"
kind = "loss"
predicts = { symbol = "L", quantity = "loss", unit = "nats/token" }
formula = "E + A / N**alpha"
location = "run 1"
verified = false
variables.N = { meaning = "parameters", unit = "params", fitted = ["1e8", "1e10"] }
variables.D = { meaning = "tokens", unit = "tokens" }
constants.E = { value = "1.69", location = "run 1" }
constants.A = { value = "406.4", location = "run 1" }
constants.alpha = { value = "0.34", location = "run 1" }
[[law.check]]
location = "run 1"
expr = "alpha + E"
expect = "2.03"
''', "short.toml")
SHORT["law"][0]["formula"] = "E + A / N**alpha + 0 * D"
SHORT_PATHS = list(paths(SHORT))
hostile_text = st.one_of(st.sampled_from(["", " ", "run\x00", "ok\n", "\x1b[2J", "1e400", "0.5", "x"]),
                         st.text(max_size=6))


def outcome(doc):
    try:
        return load_document(copy.deepcopy(doc), "short.toml", origin="user")
    except KbError as exc:
        return type(exc), str(exc)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SHORT_PATHS), st.booleans(), st.one_of(junk, hostile_text)),
                min_size=1, max_size=4))
def test_the_shortcuts_give_what_the_general_path_gives(edits):
    """Constants, variables and checks in their common shape skip the general path: the same
    laws, or the same one-line refusal, either way."""
    import kb.schema as schema

    doc = copy.deepcopy(SHORT)
    for path, delete, value in edits:
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if delete:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    fast = outcome(doc)
    schema._SHORTCUTS = False
    try:
        slow = outcome(doc)
    finally:
        schema._SHORTCUTS = True
    assert fast == slow


def test_the_shortcut_document_is_valid():
    assert isinstance(outcome(SHORT)[0], object) and outcome(SHORT)[1][0].name == "fit"
