"""The questions the benchmarks time: the examples a forum sees most."""

from __future__ import annotations

from tutor.engine import Question


def two_layer_network(hidden: int = 4, inputs: int = 3) -> Question:
    """A tanh network with one hidden layer on one example: inputs*hidden + 2*hidden + 1 parameters."""
    point: dict[str, float] = {}
    terms = []
    for j in range(hidden):
        pre = " + ".join(f"w{j}{i}*x{i}" for i in range(inputs)) + f" + b{j}"
        terms.append(f"v{j}*tanh({pre})")
        for i in range(inputs):
            point[f"w{j}{i}"] = round(0.1 * ((i + 2 * j) % 5) - 0.2, 2)
        point[f"b{j}"] = 0.05 * j
        point[f"v{j}"] = 0.3 - 0.1 * j
    for i in range(inputs):
        point[f"x{i}"] = 0.5 + 0.25 * i
    point["c"] = 0.1
    expression = f"({' + '.join(terms)} + c - 1)**2"
    return Question(expression, point, 0.05, steps=100, fixed=tuple(f"x{i}" for i in range(inputs)))


ALL_SIX = ("simultaneous", "sequential", "momentum", "nesterov", "adam", "rmsprop")


def network_with_data(hidden: int = 4, inputs: int = 4, rows: int = 8) -> Question:
    """The tanh network as the loss of one example, averaged over ``rows`` data rows, all six methods:
    inputs*hidden + 2*hidden + 1 parameters (25 with the defaults)."""
    network = two_layer_network(hidden, inputs)
    expression = network.expression.replace(" - 1)**2", " - y)**2")
    point = {name: value for name, value in network.point.items() if not name.startswith("x")}
    data = {f"x{i}": [round(((k * (i + 3)) % 7) / 7 - 0.4, 3) for k in range(rows)] for i in range(inputs)}
    data["y"] = [round(0.5 - ((k * 5) % 9) / 9, 3) for k in range(rows)]
    return Question(expression, point, 0.05, steps=100, methods=ALL_SIX, data=data)


CASES: dict[str, Question] = {
    "circuit": Question("(x+y)*z", {"x": -2, "y": 5, "z": -4}, 0.01, steps=100),
    "neuron": Question(
        "(sigmoid(w0*x0 + w1*x1 + b) - 1)**2",
        {"w0": 0.5, "w1": -0.3, "b": 0.1, "x0": 1, "x1": 2},
        0.5,
        steps=100,
        fixed=("x0", "x1"),
    ),
    "rosenbrock": Question("(1-x)**2 + 100*(y-x**2)**2", {"x": -1.2, "y": 1}, 0.001, steps=100),
    "network": two_layer_network(),
    "network, 8 data rows, 6 methods": network_with_data(),
}
