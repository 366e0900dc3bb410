"""Hypothesis strategies shared by the property tests: random expressions smooth everywhere on the
reals (so every random point is a fair test) and points to evaluate them at."""

from __future__ import annotations

import re

from hypothesis import strategies as st

NAMES = ("x", "y", "z")
UNARY = ("sin", "cos", "tanh", "sigmoid", "softplus", "atan")


def expressions() -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NAMES), st.sampled_from(["0.5", "2", "3", "1.5"]))

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from("+-*"), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(children, children).map(lambda t: f"({t[0]}) / (1 + ({t[1]})**2)"),
            st.tuples(children, st.sampled_from(["2", "3"])).map(lambda t: f"({t[0]})^{t[1]}"),
            st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"{t[0]}({t[1]})"),
            children.map(lambda c: f"-({c})"),
            children.map(lambda c: f"exp(tanh({c}))"),
        )

    # At least one variable: a constant has nothing to differentiate (and is refused).
    return st.recursive(leaf, extend, max_leaves=8).filter(lambda e: re.search(r"\b[xyz]\b", e) is not None)


points = st.fixed_dictionaries({n: st.floats(-2, 2, allow_nan=False) for n in NAMES})
