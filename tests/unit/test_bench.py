"""The benchmarks still run against the engine as it is (`make bench` is not part of `make test`, so
nothing else would notice a rename): one cold and one warm answer per case, and every cache cleared."""

from __future__ import annotations

import functools
import importlib
import pkgutil

import tutor.engine
from bench import engine
from bench.cases import CASES


def test_cold_clears_every_cache_of_the_engine():
    cached = set()
    for module in pkgutil.walk_packages(tutor.engine.__path__, "tutor.engine."):
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, functools._lru_cache_wrapper) and value.__module__.startswith(
                "tutor.engine"
            ):
                cached.add(value)
    assert cached == set(engine.EXPRESSION_CACHES)

    engine._seconds(CASES["neuron"], cold=False)
    assert any(function.cache_info().currsize for function in cached)
    engine.clear_caches()
    assert all(function.cache_info().currsize == 0 for function in cached)


def test_every_case_is_answered_cold_and_warm():
    results = engine.run(CASES, repeats=1)

    assert set(results) == set(CASES)
    assert all(r["cold_ms"] > 0 and r["warm_ms"] > 0 for r in results.values())
