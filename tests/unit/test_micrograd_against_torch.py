"""micrograd's two engine tests (karpathy/micrograd, test/test_engine.py: test_sanity_check and
test_more_ops), each written out as ONE expression for the tutor, with PyTorch float64 autograd as the
oracle. The torch side is micrograd's own torch code, statement by statement, on tensors; the tutor
only ever sees the expanded text (309 parts for test_more_ops, inside the default limits)."""

from __future__ import annotations

import pytest
from support.ci import skip_or_fail_in_ci

from tutor.config import Limits
from tutor.engine import Question, answer

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test extra
    torch = None

pytestmark = pytest.mark.torch

if torch is None:
    skip_or_fail_in_ci("torch is not installed (pip install -e '.[torch]')", allow_module_level=True)


def sanity_check_expression() -> str:
    """micrograd's z, q, h, y with each intermediate substituted where it is used."""
    z = "(2*x + 2 + x)"
    q = f"(relu({z}) + {z}*x)"
    h = f"relu({z}*{z})"
    return f"{h} + {q} + {q}*x"


def more_ops_expression() -> str:
    c = "(a + b)"
    d = "(a*b + b**3)"
    c = f"({c} + ({c} + 1))"  # c += c + 1
    c = f"({c} + (1 + {c} + (-a)))"  # c += 1 + c + (-a)
    d = f"({d} + ({d}*2 + relu(b + a)))"  # d += d * 2 + (b + a).relu()
    d = f"({d} + (3*{d} + relu(b - a)))"  # d += 3 * d + (b - a).relu()
    e = f"({c} - {d})"
    f = f"{e}**2"
    return f"{f}/2.0 + 10.0/{f}"  # g = f / 2.0; g += 10.0 / f


def torch_sanity_check(x):
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    return h + q + q * x


def torch_more_ops(a, b):
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    return g + 10.0 / f


def tensor(value: float):
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


def test_more_ops_fits_the_default_limits():
    limits = Limits()
    text = more_ops_expression()
    assert len(text) <= limits.max_expression_length
    # Counted as the parser counts parts (test_engine_edge_cases explains the counting).
    answer(Question(text, {"a": -4.0, "b": 2.0}, 1e-4), limits)


def test_sanity_check_as_one_expression_matches_torch():
    document = answer(Question(sanity_check_expression(), {"x": -4.0}, 0.001, steps=5))
    x = tensor(-4.0)
    y = torch_sanity_check(x)
    y.backward()
    # micrograd asserts these with ==; every number here is a small integer, exact in floats.
    assert document["loss"] == y.item()
    assert document["gradient"]["x"] == x.grad.item()
    # And the simultaneous trial takes torch's SGD steps.
    x = tensor(-4.0)
    for step in document["trials"][0]["steps"]:
        x.grad = None
        torch_sanity_check(x).backward()
        with torch.no_grad():
            x -= 0.001 * x.grad
        assert step["point"]["x"] == pytest.approx(x.item(), rel=1e-12)


def test_more_ops_as_one_expression_matches_torch():
    lr = 1e-4
    document = answer(Question(more_ops_expression(), {"a": -4.0, "b": 2.0}, lr, steps=5))
    a, b = tensor(-4.0), tensor(2.0)
    g = torch_more_ops(a, b)
    g.backward()
    assert document["loss"] == pytest.approx(g.item(), rel=1e-12)
    assert document["gradient"]["a"] == pytest.approx(a.grad.item(), rel=1e-12)
    assert document["gradient"]["b"] == pytest.approx(b.grad.item(), rel=1e-12)
    # micrograd's README numbers: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773.
    assert round(document["loss"], 4) == 24.7041
    assert round(document["gradient"]["a"], 4) == 138.8338
    assert round(document["gradient"]["b"], 4) == 645.5773

    a, b = tensor(-4.0), tensor(2.0)
    for step in document["trials"][0]["steps"]:
        a.grad = b.grad = None
        torch_more_ops(a, b).backward()
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
        assert step["point"]["a"] == pytest.approx(a.item(), rel=1e-12)
        assert step["point"]["b"] == pytest.approx(b.item(), rel=1e-12)

    # The Hessian (forward-over-reverse through the generated code) against torch's double backward.
    a, b = tensor(-4.0), tensor(2.0)
    hessian = torch.autograd.functional.hessian(torch_more_ops, (a.detach(), b.detach()))
    expected = [[hessian[i][j].item() for j in range(2)] for i in range(2)]
    for i in range(2):
        for j in range(2):
            assert document["hessian"][i][j] == pytest.approx(expected[i][j], rel=1e-10)
