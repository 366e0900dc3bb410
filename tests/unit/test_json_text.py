"""JSON text for the database and the responses, against the standard library as the oracle."""

from __future__ import annotations

import json
import math
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from tutor import json_text

finite = st.floats(allow_nan=False, allow_infinity=False)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | finite | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_reads_back_as_the_standard_library_reads_it(value):
    text = json_text.dumps(value)
    assert json.loads(text) == json.loads(json.dumps(value))
    assert json_text.loads(text) == json.loads(text)


def test_keys_keep_their_order():
    assert list(json.loads(json_text.dumps({"z": 1, "y": 2, "x": 3}))) == ["z", "y", "x"]


def test_non_finite_numbers_become_null_on_both_paths():
    assert json.loads(json_text.dumps({"a": math.nan, "b": [math.inf]})) == {"a": None, "b": [None]}
    # An integer beyond 64 bits takes the standard library's path, with the same result for NaN.
    assert json.loads(json_text.dumps({"a": math.nan, "big": 2**70})) == {"a": None, "big": 2**70}


def test_objects_json_has_no_form_for_go_to_default():
    assert json.loads(json_text.dumps({"d": date(2026, 11, 25)}, default=str)) == {"d": "2026-11-25"}
