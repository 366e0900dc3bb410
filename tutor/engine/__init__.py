"""The engine: parse, differentiate, walk the graph, run trials, analyse and explain. No web code here.

``answer(question)`` returns the analysis document described in docs/analysis-document.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tutor import __version__
from tutor.config import Limits
from tutor.engine import display
from tutor.engine.analysis import analyse_first_step
from tutor.engine.cost import check_cost
from tutor.engine.errors import InputError, TooExpensive
from tutor.engine.explain import explain
from tutor.engine.graph import Graph, GraphNode, build_graph
from tutor.engine.latex import is_latex
from tutor.engine.numbers import fmt, strict_json
from tutor.engine.parse import Parsed, parse_expression
from tutor.engine.problem import Problem
from tutor.engine.question import BASIC_METHODS, Checked, Question, check_question, question_from_text
from tutor.engine.symbolic import partials
from tutor.engine.trials import TRIALS

__all__ = [
    "BASIC_METHODS",
    "InputError",
    "Parsed",
    "Question",
    "TooExpensive",
    "answer",
    "check",
    "parse_expression",
    "question_from_text",
]


def answer(question: Question, limits: Limits | None = None) -> dict:
    # NaN and infinity are answers here (outside the domain, overflow), not errors to warn about;
    # switching NumPy's error state once, not per evaluation, keeps the step loops fast.
    with np.errstate(all="ignore"):
        return _answer(question, limits or Limits())


def check(question: Question, limits: Limits | None = None) -> Checked:
    """The question read and checked against ``limits``, its work estimated, and nothing computed yet:
    InputError or TooExpensive for one the engine refuses. Bounded by the limits alone (the size of the
    tree, the symbols, the rows), so a server may call it before giving the question a worker."""
    limits = limits or Limits()
    checked = check_question(question, parse_expression(question.expression, limits), limits)
    check_cost(checked, limits)
    return checked


def _answer(question: Question, limits: Limits) -> dict:
    checked = check(question, limits)
    parsed = checked.parsed
    problem = Problem.from_checked(checked)

    loss, gradient = problem.loss_and_gradient(problem.start)
    # With data the graph is drawn for one example, the first row: the mean over all rows would be
    # a graph with one copy of f per row.
    graph_row = 0 if checked.data else None
    graph_point = dict(checked.point)
    if checked.data:
        graph_point.update({name: values[graph_row] for name, values in checked.data.items()})
    graph = build_graph(parsed.tree, graph_point)
    # One rule for undefined parts: f is what the learner wrote, so an operation with no value makes f
    # undefined there even where the simplified formula has one (x/x*y at x = 0 simplifies to y).
    undefined_part = _undefined_part(parsed, checked, graph)
    if undefined_part is not None:
        loss, gradient = math.nan, np.full_like(gradient, math.nan)
    index = problem.parameter_index
    defined = math.isfinite(loss) and bool(np.all(np.isfinite(gradient[index])))
    hessian = problem.hessian(problem.start) if defined else None
    kinks = _kinks(parsed, checked, graph)
    formulas = partials(parsed.symbolic, checked.parameters)

    document = {
        "engine_version": __version__,
        "input": {
            "expression": question.expression,
            "point": dict(checked.point),
            "learning_rate": float(question.learning_rate),
            "steps": question.steps,
            "fixed": list(checked.fixed),
            "order": list(checked.parameters),
            "methods": list(checked.methods),
            "settings": {name: float(value) for name, value in question.settings.items()},
            "data": checked.data,
            "batch_size": checked.batch_size,
            "shuffle_seed": checked.shuffle_seed,
        },
        # As the tutor read it: the text grammar (for LaTeX input, its translation), next to the input as written.
        "expression": {
            "canonical": parsed.canonical,
            "latex": parsed.latex,
            "notation": "latex" if is_latex(question.expression) else "text",
            "read_as": parsed.text,
        },
        "display": display.formulas(parsed.tree, checked.parameters).entry(),
        "parameters": list(checked.parameters),
        "data_rows": problem.rows or None,
        "loss": loss,
        "gradient": problem.gradient_of(gradient),
        "gradient_norm": float(np.linalg.norm(gradient[index])),
        "partials": formulas.text,
        "partials_latex": formulas.latex,
        "hessian": hessian.tolist() if hessian is not None else None,
        "graph_row": graph_row,
        "graph": {
            "output": graph.output,
            "nodes": [
                {
                    "id": n.id,
                    "op": n.op,
                    "label": n.label,
                    "inputs": n.inputs,
                    "value": n.value,
                    "grad": n.grad,
                }
                for n in graph.nodes
            ],
        },
        "trials": [TRIALS[method](problem, question.steps) for method in checked.methods] if defined else [],
        "analysis": analyse_first_step(problem, loss, gradient, hessian, [kink.node.label for kink in kinks])
        if defined
        else None,
    }
    document["special_cases"] = special_cases(document, graph, problem, undefined_part, kinks)
    if formulas.note:
        document["special_cases"].append({"kind": "formulas_omitted", "message": formulas.note})
    document = strict_json(document)
    document["explanation"] = explain(document)
    return document


# Checking every data row's graph for undefined parts and kinks costs a Python walk per row; beyond
# this many node evaluations only the graph of row 0 is checked (the compiled f still covers every row).
GRAPH_CHECK_NODES = 5_000


def _row_graphs(parsed: Parsed, checked: Checked, graph: Graph) -> list[tuple[int | None, Graph]]:
    """The graph of each data row (row 0's is ``graph``), or just ``graph`` without data or when the
    rows are too many to walk."""
    if not checked.data:
        return [(None, graph)]
    rows = len(next(iter(checked.data.values())))
    if rows * len(graph.nodes) > GRAPH_CHECK_NODES:
        return [(0, graph)]
    graphs = [(0, graph)]
    for row in range(1, rows):
        point = dict(checked.point)
        point.update({name: values[row] for name, values in checked.data.items()})
        graphs.append((row, build_graph(parsed.tree, point)))
    return graphs


@dataclass(frozen=True)
class UndefinedPart:
    node: GraphNode
    inputs: list[float]
    row: int | None


def _undefined_part(parsed: Parsed, checked: Checked, graph: Graph) -> UndefinedPart | None:
    """The first operation of the learner's graph (in the first data row where there is one) that has
    no finite real value although its inputs do."""
    for row, row_graph in _row_graphs(parsed, checked, graph):
        culprit = row_graph.first_undefined()
        if culprit is not None:
            return UndefinedPart(culprit, [row_graph.nodes[i].value for i in culprit.inputs], row)
    return None


@dataclass(frozen=True)
class Kink:
    node: GraphNode
    inputs: list[float]


def _kinks(parsed: Parsed, checked: Checked, graph: Graph) -> list[Kink]:
    """The operations exactly on their kink, in any data row's graph, each label once."""
    found: dict[str, Kink] = {}
    for _, row_graph in _row_graphs(parsed, checked, graph):
        for node in row_graph.kinks():
            found.setdefault(node.label, Kink(node, [row_graph.nodes[i].value for i in node.inputs]))
    return list(found.values())


STATIONARY_MESSAGES = {
    "minimum": "a minimum: every eigenvalue of the Hessian is positive, so every short move raises f",
    "maximum": "a maximum: every eigenvalue of the Hessian is negative, so every short move lowers f",
    "saddle": "a saddle: the Hessian has eigenvalues of both signs, so f rises along some directions and "
    "falls along others",
    "inconclusive": "of a kind the Hessian cannot decide (some of its eigenvalues are 0): terms beyond "
    "second order decide",
    "kink": "on a kink, where f is not differentiable: the zero gradient is only the average of the slopes "
    "on either side, a convention",
}


def special_cases(
    document: dict, graph: Graph, problem: Problem, undefined: UndefinedPart | None, kinks: list[Kink]
) -> list[dict]:
    """The situations the numbers alone would not make plain."""
    cases: list[dict] = []
    if document["analysis"] is None:
        row = undefined.row if undefined is not None else None
        if undefined is None and problem.data is not None:
            # The graph shows row 0 only; name the first row where f itself has no value.
            undefined_rows = np.flatnonzero(~np.isfinite(problem.row_losses(problem.start)))
            row = int(undefined_rows[0]) if undefined_rows.size else None
        culprit = undefined.node if undefined is not None else graph.first_undefined()
        where = ""
        if culprit is not None:
            inputs = (
                undefined.inputs if undefined is not None else [graph.nodes[i].value for i in culprit.inputs]
            )
            at = f" (data row {row})" if row is not None else ""
            where = (
                f" `{culprit.label}` has no finite real value at its {'input' if len(inputs) == 1 else 'inputs'} "
                f"{', '.join(map(fmt, inputs))}{at}."
            )
            if undefined is not None and math.isfinite(problem.loss_and_gradient(problem.start)[0]):
                where += " Simplifying the formula would hide this; f as written has no value here."
        elif row is not None:
            where = f" f has no finite real value at data row {row}."
        what = "f" if not math.isfinite(document["loss"]) else "a partial derivative of f"
        cases.append(
            {
                "kind": "undefined",
                "message": f"{what} is not a finite real number at this point, so no step can be computed."
                + where
                + " Pick a point inside the function's domain.",
                "node": None
                if culprit is None
                else {
                    "id": culprit.id,
                    "label": culprit.label,
                    "inputs": undefined.inputs
                    if undefined is not None
                    else [graph.nodes[i].value for i in culprit.inputs],
                },
                "row": row,
            }
        )
        return cases
    stationary = document["analysis"]["stationary"]
    if stationary is not None:
        cases.append(
            {
                "kind": "stationary",
                "message": "The gradient is zero here, so gradient descent does not move, whatever the "
                f"learning rate. The point is {STATIONARY_MESSAGES[stationary['kind']]}.",
                "classification": stationary["kind"],
            }
        )
    for kink in kinks:
        node = kink.node
        cases.append(
            {
                "kind": "kink",
                "message": f"`{node.label}` sits exactly on its kink here, where it is not differentiable; "
                "the tutor uses the average of the slopes on either side (like SymPy's Heaviside(0) = 1/2), "
                "and Taylor's expansion does not apply.",
                "node": {"id": node.id, "label": node.label, "inputs": kink.inputs},
            }
        )
    for trial in document["trials"]:
        if trial["diverged_at"] is not None:
            cases.append(
                {
                    "kind": "diverged",
                    "message": f"The {trial['method']} trial diverged at step {trial['diverged_at']}.",
                }
            )
    return cases
