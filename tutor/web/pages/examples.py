"""One-click examples on the ask page: each prefills the form (``/?example=<slug>``) and teaches one thing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    slug: str
    title: str
    teaches: str
    expression: str
    point: str
    learning_rate: str
    steps: str = "1"
    fixed: str = ""
    order: str = ""

    def form_data(self) -> dict[str, str]:
        return {
            "expression": self.expression,
            "point": self.point,
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "fixed": self.fixed,
            "order": self.order,
        }


EXAMPLES = (
    Example(
        "circuit",
        "The cs231n circuit",
        "The forum's own example: every partial comes from one forward and one backward pass.",
        "(x+y)*z",
        "x=-2, y=5, z=-4",
        "0.01",
    ),
    Example(
        "neuron",
        "A sigmoid neuron on one example",
        "The inputs x0, x1 are data, held fixed; only the weights and the bias learn.",
        "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
        "w0=0.5, w1=-0.3, b=0.1, x0=1, x1=2",
        "0.5",
        steps="20",
        fixed="x0, x1",
    ),
    Example(
        "flip",
        "Moving one weight flips another's slope",
        "Updating x first turns ∂f/∂y from + to −; the simultaneous step still lowers the loss.",
        "x*y",
        "x=0.1, y=0.5",
        "1",
    ),
    Example(
        "bowl",
        "A small-looking learning rate that diverges",
        "An ill-conditioned bowl: η = 0.011 is just past the bound 0.01 set by the steep direction.",
        "x**2 + 100*y**2",
        "x=1, y=1",
        "0.011",
        steps="20",
    ),
    Example(
        "rosenbrock",
        "Rosenbrock's valley",
        "A curved valley: the bound on η is found on f itself, and differs from the quadratic estimate.",
        "(1-x)**2 + 100*(y-x**2)**2",
        "x=-1, y=1",
        "0.001",
        steps="100",
    ),
)

BY_SLUG = {example.slug: example for example in EXAMPLES}
