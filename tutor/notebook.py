"""The tutor in a notebook: ``explain`` answers a question in this process, no server or database.

    from tutor import explain
    a = explain("(x+y)*z", at={"x": -2, "y": 5, "z": -4}, lr=0.01)
    a                      # the answer, its tables and its plots, shown by Jupyter
    a.document["gradient"] # every number (docs/analysis-document.md)
    a.plot("contour")      # a matplotlib Figure to change or save

The options have the command line's names (``tutor explain --at --lr --steps --fixed --order --methods
--momentum --beta1 --beta2 --eps --alpha --data --batch-size --shuffle-seed``), and take the same text
or Python values. Bad input raises InputError with the message, the field and the column the service
gives. The engine runs in this process with the service's limits on the question's size; the time and
memory limits of the service's workers do not apply (it is the learner's own machine).
"""

from __future__ import annotations

import base64
import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from markdown_it import MarkdownIt

from tutor.config import Limits
from tutor.engine import InputError, Question, answer, parse_expression
from tutor.engine.numbers import fmt
from tutor.engine.question import (
    BASIC_METHODS,
    parse_data,
    parse_names,
    parse_number,
    parse_point,
    with_latex_names,
)

__all__ = ["Explanation", "InputError", "explain"]

Names = str | Sequence[str]


def explain(
    expression: str,
    at: Mapping[str, float] | Sequence[float] | str,
    lr: float | str,
    *,
    steps: int | str = 1,
    fixed: Names = (),
    order: Names | None = None,
    methods: Names | None = None,
    momentum: float | str | None = None,
    beta1: float | str | None = None,
    beta2: float | str | None = None,
    eps: float | str | None = None,
    alpha: float | str | None = None,
    data: Mapping[str, Sequence[float]] | str | os.PathLike | Any = None,
    batch_size: int | str | None = None,
    shuffle_seed: int | str | None = None,
    limits: Limits | None = None,
) -> Explanation:
    """The answer to one question: f = ``expression`` (the text grammar or LaTeX) from the point ``at``
    ({"x": -2, ...}, "x=-2, y=5", or the values alone in the order the variables first appear in f)
    with learning rate ``lr``. ``data``: {column: values}, a DataFrame, or the path of a CSV file (as
    ``--data``). Raises InputError for a question the service would refuse."""
    limits = limits or Limits.from_env()
    if not isinstance(expression, str):
        raise InputError("the expression must be text")
    settings = {"momentum": momentum, "beta1": beta1, "beta2": beta2, "eps": eps, "alpha": alpha}
    question = Question(
        expression=expression,
        point=_point(expression, at, limits),
        learning_rate=_number(lr, "learning_rate"),
        steps=int(_number(steps, "steps", int)),
        fixed=_names(fixed, "fixed"),
        order=_names(order, "order") or None,
        methods=_names(methods, "methods") or BASIC_METHODS,
        settings={name: _number(value, "settings") for name, value in settings.items() if value is not None},
        data=_data(data),
        batch_size=None if batch_size is None else int(_number(batch_size, "batch_size", int)),
        shuffle_seed=None if shuffle_seed is None else int(_number(shuffle_seed, "shuffle_seed", int)),
    )
    return Explanation(answer(with_latex_names(question), limits), limits)


def _real(value: Any) -> bool:
    """A number, NumPy's included; not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """A number as Python's float (NumPy's scalars are checked like any other), anything else as it is."""
    return float(value) if _real(value) else value


def _number(value: Any, field_name: str, kind: type = float) -> float:
    if isinstance(value, str):
        return parse_number(value, field_name, kind)
    whole = kind is int
    if not _real(value) or whole and (not math.isfinite(value) or value != int(value)):
        what = "a whole number" if whole else "a number"
        raise InputError(f"{field_name.replace('_', ' ')} must be {what}, not {value!r:.20}", field_name)
    return int(value) if whole else float(value)


def _names(value: Names | None, field_name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, str | Sequence) or not all(isinstance(name, str) for name in value):
        raise InputError(f'{field_name} must be names, e.g. "x, y" or ["x", "y"]', field_name)
    return parse_names(value, field_name)


def _point(expression: str, at: Any, limits: Limits) -> dict[str, float]:
    if isinstance(at, str):
        return parse_point(at)
    if isinstance(at, Mapping):
        return {name: _plain(value) for name, value in at.items()}
    values = list(at) if hasattr(at, "__iter__") else None
    if values is not None and all(_real(value) for value in values):
        # The values alone: in the order the variables first appear in f, as a forum post may give them.
        names = parse_expression(expression, limits).symbols
        if len(values) != len(names):
            variables = f"{len(names)} variable{'s' if len(names) != 1 else ''} ({', '.join(names)})"
            raise InputError(f"at gives {len(values)} values but f has {variables}", "point")
        return dict(zip(names, map(float, values), strict=True))
    raise InputError('at must map each variable to a number, e.g. {"x": -2, "y": 5}', "point")


def _data(data: Any) -> dict[str, Sequence[float]] | None:
    if data is None:
        return None
    if isinstance(data, str | os.PathLike):
        try:
            with open(data, encoding="utf-8") as file:
                return parse_data(file.read())
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(
                f"cannot read {data}: {getattr(error, 'strerror', None) or error}", "data"
            ) from None
    if hasattr(data, "to_dict") and not isinstance(data, Mapping):
        data = data.to_dict("list")  # a pandas DataFrame: its columns
    if not isinstance(data, Mapping):
        raise InputError("data must map each column to its values, or be the path of a CSV file", "data")
    return {
        name: [_plain(value) for value in values]
        if hasattr(values, "__iter__") and not isinstance(values, str)
        else values
        for name, values in data.items()
    }


_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


@dataclass(frozen=True)
class Explanation:
    """The answer to a question: ``document`` holds every number, ``markdown`` and ``text`` the
    explanation (the short answer first), and ``plot(name)`` draws one of ``plots``. Jupyter shows it
    with its plots inline."""

    document: dict
    limits: Limits = field(default_factory=Limits, repr=False)

    @property
    def markdown(self) -> str:
        return self.document["explanation"]["markdown"]

    @property
    def text(self) -> str:
        return self.document["explanation"]["text"]

    @property
    def summary(self) -> str | None:
        """The short answer (Markdown), when this engine writes one."""
        summary = self.document["explanation"].get("summary")
        return summary["markdown"] if summary else None

    @property
    def plots(self) -> list[str]:
        """The names of the plots this answer has, for ``plot``."""
        from tutor import plots

        return plots.available(self.document)

    def plot(self, name: str):
        """Plot ``name`` (one of ``plots``) as a matplotlib Figure, to change or save."""
        from tutor import plots

        if name not in self.plots:
            available = ", ".join(self.plots) or "none"
            raise InputError(f"no plot {name!r} for this answer (it has: {available})", "plot")
        return plots.figure(self.document, name, self.limits)

    @cached_property
    def _pngs(self) -> dict[str, bytes]:
        """Each plot drawn once, for whichever of the displays Jupyter asks for."""
        from tutor import plots

        return {name: plots.render(self.document, name, self.limits) for name in self.plots}

    def _images(self) -> list[tuple[str, str]]:
        from tutor import plots

        return [
            (plots.TITLES.get(name, name), "data:image/png;base64," + base64.b64encode(png).decode())
            for name, png in self._pngs.items()
        ]

    def _repr_markdown_(self) -> str:
        images = "".join(f"![{title}]({uri})\n\n" for title, uri in self._images())
        return self.markdown.rstrip() + "\n\n" + images

    def _repr_html_(self) -> str:
        figures = "".join(
            f'<figure><img src="{uri}" alt="{title}" style="max-width:100%"><figcaption>{title}</figcaption>'
            "</figure>\n"
            for title, uri in self._images()
        )
        return f'<div class="backprop-tutor">\n{_MARKDOWN.render(self.markdown)}{figures}</div>'

    def __repr__(self) -> str:
        loss = self.document["loss"]
        shown = fmt(loss) if loss is not None and math.isfinite(loss) else "undefined"
        return f"<Explanation f = {_one_line(self.document['input']['expression'])}, loss {shown}>"


def _one_line(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= 60 else text[:57] + "..."
