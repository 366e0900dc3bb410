"""The engine: parse, differentiate, walk the graph, run trials, analyse and explain. No web code here.

``answer(question)`` returns the analysis document described in docs/analysis-document.md.
"""

from __future__ import annotations

import math

import numpy as np

from tutor import __version__
from tutor.config import Limits
from tutor.engine.analysis import analyse_first_step
from tutor.engine.cost import check_cost
from tutor.engine.errors import InputError, TooExpensive
from tutor.engine.explain import explain
from tutor.engine.graph import Graph, build_graph
from tutor.engine.numbers import fmt, strict_json
from tutor.engine.parse import Parsed, parse_expression
from tutor.engine.problem import Problem
from tutor.engine.question import BASIC_METHODS, Question, check_question, question_from_text
from tutor.engine.symbolic import partials
from tutor.engine.trials import TRIALS

__all__ = [
    "BASIC_METHODS",
    "InputError",
    "Parsed",
    "Question",
    "TooExpensive",
    "answer",
    "parse_expression",
    "question_from_text",
]


def answer(question: Question, limits: Limits | None = None) -> dict:
    # NaN and infinity are answers here (outside the domain, overflow), not errors to warn about;
    # switching NumPy's error state once, not per evaluation, keeps the step loops fast.
    with np.errstate(all="ignore"):
        return _answer(question, limits or Limits())


def _answer(question: Question, limits: Limits) -> dict:
    parsed = parse_expression(question.expression, limits)
    checked = check_question(question, parsed, limits)
    check_cost(checked, limits)
    problem = Problem.from_checked(checked)

    loss, gradient = problem.loss_and_gradient(problem.start)
    # With data the graph is drawn for one example, the first row: the mean over all rows would be
    # a graph with one copy of f per row.
    graph_row = 0 if checked.data else None
    graph_point = dict(checked.point)
    if checked.data:
        graph_point.update({name: values[graph_row] for name, values in checked.data.items()})
    graph = build_graph(parsed.tree, graph_point)
    index = problem.parameter_index
    defined = math.isfinite(loss) and bool(np.all(np.isfinite(gradient[index])))
    hessian = problem.hessian(problem.start) if defined else None
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
        "expression": {"canonical": parsed.canonical, "latex": parsed.latex},
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
        "analysis": analyse_first_step(problem, loss, gradient, hessian) if defined else None,
    }
    document["special_cases"] = special_cases(document, graph, defined, problem)
    if formulas.note:
        document["special_cases"].append({"kind": "formulas_omitted", "message": formulas.note})
    document = strict_json(document)
    document["explanation"] = explain(document)
    return document


def special_cases(document: dict, graph: Graph, defined: bool, problem: Problem) -> list[dict]:
    """The situations the numbers alone would not make plain."""
    cases: list[dict] = []
    if not defined:
        culprit = graph.first_undefined()
        where = ""
        if problem.data is not None:
            # The graph shows row 0 only; name the first row where f itself has no value.
            undefined_rows = np.flatnonzero(~np.isfinite(problem.row_losses(problem.start)))
            if undefined_rows.size:
                where = f" f has no finite real value at data row {int(undefined_rows[0])}."
        if culprit is not None and not where:
            inputs = ", ".join(fmt(graph.nodes[i].value) for i in culprit.inputs)
            where = f" `{culprit.label}` has no finite real value at its input {inputs}."
        what = "f" if not math.isfinite(document["loss"]) else "a partial derivative of f"
        cases.append(
            {
                "kind": "undefined",
                "message": f"{what} is not a finite real number at this point, so no step can be computed."
                + where
                + " Pick a point inside the function's domain.",
            }
        )
        return cases
    if document["gradient_norm"] == 0:
        cases.append(
            {
                "kind": "stationary",
                "message": "The gradient is zero here (a stationary point: a minimum, maximum or saddle). "
                "Gradient descent does not move, whatever the learning rate.",
            }
        )
    for node in graph.kinks():
        cases.append(
            {
                "kind": "kink",
                "message": f"`{node.label}` sits exactly on its kink here, where it is not differentiable; "
                "the tutor uses the average of the slopes on either side (like SymPy's Heaviside(0) = 1/2).",
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
