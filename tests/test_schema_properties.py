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
