"""One-click examples on the ask page: each prefills the form (``/?example=<slug>``) and teaches one thing."""

from __future__ import annotations

from dataclasses import dataclass, field

from tutor.engine import BASIC_METHODS


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
    methods: tuple[str, ...] = BASIC_METHODS
    settings: dict[str, str] = field(default_factory=dict)  # by setting name; the rest stay blank
    data: str = ""
    batch_size: str = ""
    shuffle_seed: str = ""

    def form_data(self) -> dict[str, str | list[str]]:
        return {
            "expression": self.expression,
            "point": self.point,
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "fixed": self.fixed,
            "order": self.order,
            "methods": list(self.methods),
            **self.settings,
            "data": self.data,
            "batch_size": self.batch_size,
            "shuffle_seed": self.shuffle_seed,
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
        "A small-looking learning rate that makes the loss grow",
        "An ill-conditioned bowl: η = 0.011 is just past the bound 0.01 set by the steep direction, and "
        "the loss grows at every step.",
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
    Example(
        "momentum",
        "Momentum raises the loss",
        "Plain gradient descent lowers this bowl's loss at every step; with momentum μ = 0.9 the "
        "remembered velocity overshoots across the steep direction and the loss goes up again and again.",
        "x**2 + 10*y**2",
        "x=1, y=1",
        "0.05",
        steps="30",
        methods=("simultaneous", "momentum"),
        settings={"momentum": "0.9"},
    ),
    Example(
        "minibatch",
        "Mini-batches: a different loss every step",
        "A line fitted to six noisy points, two rows a step: each step lowers its own batch's loss, and "
        "some of them raise the loss over all the rows.",
        "(w*x + b - y)**2",
        "w=2, b=0",
        "0.03",
        steps="20",
        methods=("simultaneous", "minibatch"),
        data="x,y\n0,1.2\n1,2.6\n2,5.4\n3,6.9\n4,9.3\n5,10.8",
        batch_size="2",
    ),
)

BY_SLUG = {example.slug: example for example in EXAMPLES}
