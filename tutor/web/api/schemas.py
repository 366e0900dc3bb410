"""The API's request and response bodies. The OpenAPI document is generated from these.

Requests are validated strictly. Responses are written straight from the stored case document (see
views.case_response) and described here key by key, so a bot knows every member it gets; the contract
tests validate real responses against these schemas with additional properties forbidden, so a key
the engine adds without a model here fails them. To describe a new key, add a field to the model of
the object that holds it (e.g. ``Explanation`` for ``explanation.summary``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from tutor.engine import InputError
from tutor.engine.functions import FUNCTIONS
from tutor.engine.question import METHODS
from tutor.services.cases import MAX_PAGE, MAX_PER_PAGE, OUTCOMES, SPECIAL_CASES

# Request bodies are strict: a number must be a JSON number (not "0.1", not true), unknown members are
# refused, and NaN or Infinity (which Python's JSON reader accepts) are not numbers here.
STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
# The API's size limits before the engine's own (which the OpenAPI document states, from Limits).
MAX_TEXT = 10_000


def vocabulary(name: str, values, meaning: str) -> type[StrEnum]:
    """A named enum of strings: one schema component a generated client makes one enum class of."""
    enum = StrEnum(name, {value: value for value in values})
    enum.__doc__ = meaning
    return enum


Method = vocabulary("Method", METHODS, "A trial the engine runs (torch.optim's rules for the optimizers).")
Outcome = vocabulary(
    "Outcome",
    OUTCOMES,
    "Simultaneous against sequential: which ended lower or a tie, or the loss went up on the way "
    "(never a tie), or a trial diverged.",
)
SpecialCaseFilter = vocabulary("SpecialCaseFilter", SPECIAL_CASES, "A special case a listing can filter on.")
SpecialCaseKind = vocabulary(
    "SpecialCaseKind",
    ("stationary", "kink", "undefined", "diverged", "formulas_omitted"),
    "A situation the numbers alone would not make plain.",
)
StationaryKind = vocabulary(
    "StationaryKind",
    ("minimum", "maximum", "saddle", "inconclusive", "kink"),
    "What a point with a zero gradient is, from the Hessian (kink: the zero is an average of slopes).",
)
Verdict = vocabulary(
    "Verdict", ("decreases", "increases", "unchanged", "undefined"), "What one step does to f."
)
NodeOp = vocabulary(
    "NodeOp",
    ("input", "const", "add", "sub", "mul", "div", "pow", "neg", "pos", *FUNCTIONS),
    "A node of the graph: an input, a constant, an operator or a function.",
)
# Requests are strict, but a JSON string is how an enum arrives.
MethodIn = Annotated[Method, Field(strict=False)]

# Strict JSON: a number that is not finite (an overflow, a point outside f's domain) is null.
Number = float | None
ByName = dict[str, float | None]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def optional(**constraints: Any) -> Any:
    """A member that may be left out but is never null: its schema has no null and no default."""
    return Field(None, json_schema_extra=_no_default, **constraints)


# Requests -------------------------------------------------------------------------------------------


class OptimizerSettings(BaseModel):
    """Settings of the optimizer trials; each one left out takes torch.optim's default."""

    model_config = STRICT

    momentum: float = optional(ge=0, lt=1, description="μ of momentum and nesterov (default 0.9)")
    beta1: float = optional(ge=0, lt=1, description="β1 of adam (default 0.9)")
    beta2: float = optional(ge=0, lt=1, description="β2 of adam (default 0.999)")
    betas: list[Annotated[float, Field(ge=0, lt=1)]] = optional(
        min_length=2,
        max_length=2,
        description="torch's name for adam's [β1, β2] (`torch.optim.Adam(betas=(0.9, 0.999))`); "
        "with beta1 or beta2 too, each must agree with it",
    )
    alpha: float = optional(ge=0, lt=1, description="α of rmsprop (default 0.99)")
    eps: float = optional(gt=0, description="ε of adam and rmsprop (default 1e-8)")

    def values(self) -> dict[str, float]:
        """The settings by the engine's names (betas as beta1 and beta2)."""
        given = self.model_dump(exclude_none=True, exclude={"betas"})
        if self.betas is not None:
            for name, value in zip(("beta1", "beta2"), self.betas, strict=True):
                if given.setdefault(name, value) != value:
                    raise InputError(
                        f"betas says {name} = {value:g} but {name} says {given[name]:g}", "settings"
                    )
        return given


def one_learning_rate(learning_rate: float | None, lr: float | None) -> float:
    """The learning rate from either name; both may be given only when they agree."""
    if learning_rate is None and lr is None:
        raise InputError("give the learning rate as learning_rate (or lr)", "learning_rate")
    if learning_rate is not None and lr is not None and learning_rate != lr:
        raise InputError(f"learning_rate ({learning_rate:g}) and lr ({lr:g}) differ: give one of them", "lr")
    return learning_rate if learning_rate is not None else lr


LEARNING_RATE = "η, the step size"
LR = "the same as learning_rate (the name of the CLI, the forum syntax and torch.optim); give either"
# One of the two is required. Said as an extension, not as JSON Schema's anyOf of required lists:
# client generators (openapi-python-client) give up on an object body described with anyOf.
EITHER_RATE = {"x-required-one-of": [["learning_rate"], ["lr"]]}


class CaseIn(BaseModel):
    """A question: the function, the point to start from and the learning rate."""

    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            **EITHER_RATE,
            "examples": [
                {"expression": "(x+y)*z", "point": {"x": -2, "y": 5, "z": -4}, "learning_rate": 0.01},
                {
                    "expression": "(w*x + b - y)**2",
                    "point": {"w": 0.5, "b": 0},
                    "lr": 0.1,
                    "steps": 20,
                    "methods": ["simultaneous", "momentum", "adam"],
                    "settings": {"momentum": 0.9, "betas": [0.9, 0.999]},
                    "data": {"x": [1, 2, 3], "y": [2, 4, 5]},
                    "batch_size": 2,
                },
            ],
        },
    )

    expression: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="f, e.g. `(x+y)*z` (`^` is a power), or LaTeX, e.g. `$\\frac{1}{2}(\\hat{y} - y)^2$`: read "
        "as LaTeX between `$` signs or with a backslash, a brace or a bar; the point may then name `\\hat{y}` "
        "or `y_hat`",
    )
    point: dict[str, float] = Field(
        description="the starting value of every symbol (except data columns), in the order to update them"
    )
    learning_rate: float = optional(gt=0, description=LEARNING_RATE)
    lr: float = optional(gt=0, description=LR)
    steps: int = Field(1, ge=1, description="how many steps each trial runs")
    fixed: list[str] = Field(default_factory=list, description="symbols held at their value, never updated")
    order: list[str] | None = Field(None, description="the order of the one-at-a-time updates")
    question: str | None = Field(
        None, max_length=MAX_TEXT, description="the question in words, kept with the case"
    )
    methods: list[MethodIn] | None = Field(
        None,
        description="the trials to run (default: simultaneous and sequential); minibatch needs data "
        "and batch_size, and batch_size adds it",
    )
    settings: OptimizerSettings | None = Field(None, description="optimizer settings (torch.optim's names)")
    data: dict[str, list[float]] | None = Field(
        None, description="data rows as columns {symbol: values}; f is then the loss of one row"
    )
    batch_size: int | None = Field(None, ge=1, description="rows per step of the minibatch trial")
    shuffle_seed: int | None = Field(None, ge=0, description="shuffle the rows each epoch with this seed")

    def rate(self) -> float:
        return one_learning_rate(self.learning_rate, self.lr)


class RerunIn(BaseModel):
    model_config = ConfigDict(
        **STRICT, json_schema_extra={**EITHER_RATE, "examples": [{"learning_rate": 0.1}, {"lr": 0.1}]}
    )

    learning_rate: float = optional(gt=0, description="the new η")
    lr: float = optional(gt=0, description=LR)

    def rate(self) -> float:
        return one_learning_rate(self.learning_rate, self.lr)


class IdempotencyHeaders(BaseModel):
    # Every request header is offered to this model; only this one is read.
    model_config = ConfigDict(extra="ignore")

    idempotency_key: str = optional(
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retrying with the same key returns the first answer and stores nothing new; reusing "
        "it for another question is a 409. Keys are per token: 1 to 200 printable ASCII characters.",
    )


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    """A query's date or date-time as RFC 3339 writes it, and nothing else: pydantic alone would also
    read "0.5" as a Unix time."""
    if not isinstance(value, str):
        return value
    text = value.upper()
    if _DATE.fullmatch(text):
        return date.fromisoformat(text)
    if _DATE_TIME.fullmatch(text):
        # RFC 3339 allows a leap second; Python's datetime does not.
        return datetime.fromisoformat(text[:17] + "59" + text[19:] if text[17:19] == "60" else text)
    raise ValueError("write a date as 2025-01-31, or a date and time with its offset as 2025-01-31T12:00:00Z")


Moment = Annotated[AwareDatetime | date, BeforeValidator(_rfc3339)]


class CaseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=MAX_PAGE, description="the page, from 1")
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE, description="cases per page")
    source: str = optional(
        max_length=200, description='who asked: "api" (every bot), "api:NAME", "web", "discourse", "cli"'
    )
    outcome: Outcome = optional(
        description="simultaneous against sequential: which ended lower, a tie, the loss went up on the "
        "way (never a tie), or a trial diverged"
    )
    search: str = optional(max_length=200, description="text in the expression or the question")
    since: Moment = optional(description="created at or after (a date is midnight UTC)")
    until: Moment = optional(description="created before (a date includes that whole day, UTC)")
    sign_flip: bool = optional(
        description="true: a sequential update flipped a partial's sign; false: none did"
    )
    loss_went_up: bool = optional(
        description="true: some step of some trial raised the loss; false: none did"
    )
    diverged: bool = optional(description="true: a trial diverged; false: none did")
    method: Method = optional(description="this trial ran")
    special_case: SpecialCaseFilter = optional(
        description="stationary (zero gradient), kink (abs, relu, max or min at its corner) or undefined "
        "(f or a partial not a finite real number at the point)"
    )


# Responses ------------------------------------------------------------------------------------------


class ExpressionOut(BaseModel):
    canonical: str = Field(description="the parsed tree written out one standard way")
    latex: str = Field(description="f in LaTeX")
    notation: Literal["text", "latex"] = Field(description="how input.expression was read")
    read_as: str = Field(description="f as read, in the text grammar (LaTeX's translation)")


class GivenSettings(BaseModel):
    """The optimizer settings as the question gave them (the others took their defaults)."""

    momentum: float = optional()
    beta1: float = optional()
    beta2: float = optional()
    alpha: float = optional()
    eps: float = optional()


class CaseInput(BaseModel):
    """The question as asked, normalised (enough to ask it again)."""

    expression: str = Field(description="as typed")
    point: dict[str, float] = Field(description="every symbol but data columns, in the order given")
    learning_rate: float
    steps: int
    fixed: list[str] = Field(description="symbols held at their value (data), never updated")
    order: list[str] = Field(description="the order of the sequential updates")
    methods: list[Method] = Field(description='the trials run; "minibatch" is added when batch_size is set')
    settings: GivenSettings
    data: dict[str, list[float]] | None = Field(description="{column: values} with data rows, else null")
    batch_size: int | None
    shuffle_seed: int | None


class GraphNode(BaseModel):
    id: int
    op: NodeOp = Field(description="input, const, an operator or a function's name")
    label: str = Field(description="the sub-expression this node computes")
    inputs: list[int] = Field(description="ids of the nodes it takes")
    value: Number = Field(description="its value in the forward pass")
    grad: Number = Field(description="∂f/∂node from the backward pass; 0 for constants")


class Graph(BaseModel):
    """The backprop walk, one node per operation in topological order (with data: row graph_row's)."""

    output: int = Field(description="the id of the node that is f")
    nodes: list[GraphNode]


class Step(BaseModel):
    step: int = Field(ge=1, description="the step's number, from 1")
    point: ByName = Field(description="the parameters after the step")
    loss: Number = Field(description="the loss after the step")


class GradientStep(Step):
    """A step of simultaneous, adam or rmsprop."""

    gradient: ByName = Field(description="the gradient at the point before this step")
    update: ByName = Field(
        description="the move made: point after − point before, in float64 (a computed step below a "
        "parameter's spacing is lost to rounding: 0 there)"
    )
    angle_to_negative_gradient: Number = Field(
        description="degrees between the update and −gradient; null if either is 0"
    )
    loss_went_up: bool = Field(description="the loss after is above the loss before")
    lost_to_rounding: list[str] = optional(
        description="only when some parameter's computed step was not 0 but it did not move"
    )


class MomentumStep(GradientStep):
    """A step of momentum or nesterov."""

    velocity_share: Number = Field(
        description="the remembered velocity's part of the step relative to the step's length (0 at step 1)"
    )


class SequentialUpdate(BaseModel):
    parameter: str = Field(description="the parameter this update moved")
    partial: Number = Field(description="its partial at the partly updated point: the one used")
    partial_at_start: Number = Field(description="its partial at the start of the step")
    value: Number = Field(description="its new value")
    loss: Number = Field(description="the loss after this update")
    sign_flip: bool = Field(
        description="the partial changed sign because a parameter updated before it moved"
    )


class SequentialStep(Step):
    updates: list[SequentialUpdate] = Field(description="one parameter at a time, in the order")


class MinibatchStep(Step):
    epoch: int = Field(ge=1)
    batch: list[int] = Field(description="the rows of this step's batch (0-based)")
    batch_loss: Number = Field(description="the batch's mean loss before the update")
    batch_loss_after: Number = Field(description="the same batch's loss after it")
    loss_went_up: bool = Field(description="the full loss after is above the full loss before")
    gradient: ByName = Field(description="the batch's gradient: the one used")
    full_gradient: ByName = Field(description="the full loss's gradient at the same point")
    gradient_norm: Number
    full_gradient_norm: Number
    angle_to_full_gradient: Number = Field(
        description="degrees between the two gradients; null if either is 0"
    )


class NoSettings(BaseModel):
    """Simultaneous and sequential updates have no settings."""


class MomentumSettings(BaseModel):
    momentum: float


class AdamSettings(BaseModel):
    beta1: float
    beta2: float
    eps: float


class RmspropSettings(BaseModel):
    alpha: float
    eps: float


class MinibatchSettings(BaseModel):
    batch_size: int
    shuffle_seed: int | None


class TrialBase(BaseModel):
    learning_rate: float
    initial_loss: Number
    final_loss: Number = Field(description="the loss at the last finite step")
    diverged_at: int | None = Field(description="the step at which values stopped being finite, else null")


class SimultaneousTrial(TrialBase):
    """Every parameter steps from the gradient at the same point: backprop + SGD."""

    method: Literal["simultaneous"]
    settings: NoSettings
    steps: list[GradientStep]


class SequentialTrial(TrialBase):
    """One parameter at a time, each partial recomputed at the partly updated point."""

    method: Literal["sequential"]
    settings: NoSettings
    steps: list[SequentialStep]


class MomentumTrial(TrialBase):
    """torch.optim.SGD with momentum (nesterov: with nesterov=True)."""

    method: Literal["momentum", "nesterov"]
    settings: MomentumSettings
    steps: list[MomentumStep]


class AdamTrial(TrialBase):
    """torch.optim.Adam."""

    method: Literal["adam"]
    settings: AdamSettings
    steps: list[GradientStep]


class RmspropTrial(TrialBase):
    """torch.optim.RMSprop."""

    method: Literal["rmsprop"]
    settings: RmspropSettings
    steps: list[GradientStep]


class MinibatchTrial(TrialBase):
    """Gradient descent on one batch of data rows per step."""

    method: Literal["minibatch"]
    settings: MinibatchSettings
    steps: list[MinibatchStep]


Trial = Annotated[
    SimultaneousTrial | SequentialTrial | MomentumTrial | AdamTrial | RmspropTrial | MinibatchTrial,
    Field(discriminator="method"),
]


class ShrinkingRow(BaseModel):
    learning_rate: float
    predicted: Number = Field(description="the first-order change −η‖g‖²")
    actual: Number = Field(description="the change of f")
    gap: Number = Field(description="actual − predicted")
    gap_over_lr_squared: Number = Field(description="gap / η²: settles to a constant as η shrinks")
    inside_domain: bool = Field(description="false: the step leaves f's domain (actual, gap and ratio null)")


class Resolution(BaseModel):
    """How far float64 resolves the changes of f at the point."""

    loss_spacing: Number = Field(description="the gap between float64 numbers at f(x)")
    high_precision: bool = Field(
        description="the learner's step and its halvings were computed at 50 significant digits"
    )
    precise_search: bool = Field(description="the bound and the best η were found at 50 digits too")
    change_noise: Number = Field(description="the rounding a reported change may carry")
    float64_actual_change: Number = Field(description="the learner's step in float64, as the trials see it")


class Descent(BaseModel):
    direction: ByName = Field(description="a unit direction that lowers f")
    curvature: Number = Field(
        description="its eigenvalue (0: terms beyond second order lower f; null: an axis)"
    )
    step: float = Field(description="the length of the move shown")
    change: Number = Field(description="f(p + step·direction) − f(p)")


class Stationary(BaseModel):
    """A point where every partial is 0, classified from the Hessian."""

    kind: StationaryKind
    eigenvalues: list[Number] = Field(description="the Hessian's, ascending")
    eigenvectors: list[ByName] = Field(description="one unit direction per eigenvalue")
    descent: Descent | None = Field(description="a move that lowers f, shown on f itself; null if none")


class Analysis(BaseModel):
    """The first simultaneous step at the learner's learning rate, taken apart (Taylor's theorem)."""

    learning_rate: float
    actual_change: Number
    first_order_change: Number = Field(description="−η‖g‖²")
    first_order_shares: ByName = Field(description="each parameter's −η·gᵢ²")
    second_order_change: Number = Field(description="½η²·gᵀHg; null if H is undefined")
    second_order_own: Number = Field(description="its diagonal part: each parameter's own curvature")
    second_order_interplay: Number = Field(description="its off-diagonal part: the parameters' interplay")
    remainder: Number = Field(description="actual − first − second order")
    max_decreasing_learning_rate: Number = Field(
        description="the first η > 0 at which the step no longer lowers f; null if none was found"
    )
    max_decreasing_reason: str = Field(description="how it was found, or why it is null")
    taylor_applies: bool = Field(description="false at a kink: f is not differentiable there")
    quadratic_estimate: Number = Field(description="2gᵀg/gᵀHg; null when gᵀHg ≤ 0")
    best_learning_rate: Number = Field(description="the η that lowers f most along −g; null if none")
    best_change: Number
    best_reason: str = Field(description="where the best η is, or why there is none")
    search_range: list[float] = Field(min_length=2, max_length=2, description="the η searched, low and high")
    shrinking: list[ShrinkingRow] = Field(description="at η, η/2, η/4, η/8")
    verdict: Verdict = Field(description="what the step does to f")
    guaranteed_below: Number = Field(description="the same as max_decreasing_learning_rate")
    resolution: Resolution
    stationary: Stationary | None = Field(description="when the gradient is 0: what kind of point it is")


class NodeAt(BaseModel):
    id: int
    label: str = Field(description="the sub-expression, as the learner wrote it")
    inputs: list[Number] = Field(description="the values it was given")


class SpecialCase(BaseModel):
    kind: SpecialCaseKind
    message: str = Field(description="the situation in a sentence")
    node: NodeAt | None = optional(
        description="undefined: the first operation with no finite real value although its inputs have "
        "one (null when none is found); kink: the operation on its corner"
    )
    classification: StationaryKind = optional(description="stationary: what kind of point it is")
    row: int | None = optional(description="undefined, with data: the first data row where f has no value")


class AnswerText(BaseModel):
    markdown: str
    text: str


class Explanation(BaseModel):
    summary: AnswerText = optional(
        description="the short answer, 2–5 sentences with this case's numbers (absent from older cases)"
    )
    markdown: str = Field(description="the whole answer as Markdown a forum renders: the summary first")
    text: str = Field(description="the same as plain text")


class Formula(BaseModel):
    latex: str
    text: str = Field(description="plain Unicode; without 𝟙[…] or sign(…) it reads back as tutor input")


class NamedFormula(Formula):
    name: str = Field(description="the name the partials use for this part of f (z, a, u, …)")


class ChainRulePartial(Formula):
    substituted: Formula | None = Field(description="the same with every name replaced, where short")


class Display(BaseModel):
    """f and its partials as learners write them (names as typed, σ kept), from the learner's own tree."""

    expression: Formula
    definitions: list[NamedFormula] = Field(description="named parts of f, in the order they are defined")
    partials: dict[str, ChainRulePartial | None] = Field(
        description="∂f/∂p in chain-rule form over the named parts; null when too long to write out"
    )


class CaseOut(BaseModel):
    """A case: the analysis document (docs/analysis-document.md) and who asked, when, and its address."""

    id: str
    url: str = Field(description="the case's web page")
    created_at: datetime = Field(description="when it was asked (UTC)")
    source: str = Field(description='who asked: "web", "cli", "api:NAME", "discourse:POST"')
    question: str | None = Field(description="the question in words, if given")
    parent_id: str | None = Field(description="the case this one re-runs with another learning rate")
    engine_version: str
    input: CaseInput
    expression: ExpressionOut
    parameters: list[str] = Field(description="the updated symbols, in update order")
    data_rows: int | None = Field(description="the number of data rows, or null without data")
    loss: Number = Field(description="f at the start (with data: the mean over the rows)")
    gradient: ByName
    gradient_norm: Number
    partials: dict[str, str | None] = Field(
        description="∂f/∂p as plain-text formulas (SymEngine); null where too long to show"
    )
    partials_latex: dict[str, str | None] = Field(description="∂f/∂p in LaTeX; null where too long to show")
    display: Display = optional(description="f and its chain-rule partials as learners write them")
    hessian: list[list[float | None]] | None = Field(
        description="over the parameters, in order; null where f or a partial is undefined"
    )
    graph_row: int | None = Field(description="with data: the row the graph is drawn for (0); else null")
    graph: Graph
    trials: list[Trial] = Field(description="[] when no step can be taken from the point")
    analysis: Analysis | None = Field(description="null when f or a partial is not finite at the start")
    special_cases: list[SpecialCase]
    explanation: Explanation


class CaseSummaryOut(BaseModel):
    """A case in a listing: its columns, not its document (GET the case for that)."""

    id: str
    url: str
    created_at: datetime
    source: str
    question: str | None
    parent_id: str | None
    engine_version: str
    expression: str = Field(description="as typed")
    canonical_expression: str
    parameters: list[str]
    fixed: ByName
    point: dict[str, float]
    learning_rate: float
    steps: int
    order: list[str]
    outcome: Outcome | None = Field(description="null when simultaneous and sequential did not both run")
    methods: list[Method] = Field(description="the trials that ran")
    sign_flips: int = Field(ge=0, description="sequential updates whose partial had changed sign")
    loss_increases: int = Field(ge=0, description="steps, over every trial, that raised the loss")
    diverged: bool
    stationary: bool
    kink: bool
    undefined: bool


class CasePageOut(BaseModel):
    items: list[CaseSummaryOut]
    total: int = Field(description="matching cases on every page")
    page: int
    per_page: int
    pages: int


class Problem(BaseModel):
    """An RFC 9457 problem document: `type` says which kind of error (see /docs#problems)."""

    type: str = Field(json_schema_extra={"format": "uri"}, description="the kind of problem")
    title: str = Field(description="the kind in words")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what is wrong, in one line a person can act on")
    field: str | None = optional(description="the input at fault")
    column: int | None = optional(description="1-based column in that input's text")
    errors: dict[str, dict[str, list[str]]] = optional(
        description="request validation: {location: {member: [messages]}}"
    )


# Every model the OpenAPI document describes, with the mode pydantic describes it in.
DOCUMENTED = (
    (CaseIn, "validation"),
    (RerunIn, "validation"),
    (CaseOut, "validation"),
    (CasePageOut, "validation"),
    (Problem, "validation"),
)
