"""The pages' routes. They stay thin: the engine checks questions, the case service stores and answers
them, ``present`` and the templates lay the answer out."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from tutor import mathml, plots
from tutor.engine import InputError, question_from_text
from tutor.engine.explain import shown_values
from tutor.engine.numbers import denoise, fmt
from tutor.engine.question import BASIC_METHODS, METHODS, parse_number
from tutor.sandbox import AnalysisUnavailable, Analyzer
from tutor.services.cases import (
    MAX_PAGE,
    SPECIAL_CASES,
    CaseFilter,
    CaseNotFound,
    CaseService,
    created_between,
    first_words,
)
from tutor.services.cases import OUTCOMES as SERVICE_OUTCOMES
from tutor.services.plots import PlotService
from tutor.web.auth import is_reviewer, reviewer_required, sign_in, sign_out, token_matches
from tutor.web.extensions import limiter
from tutor.web.pages import bp, present
from tutor.web.pages.examples import BY_SLUG, EXAMPLES
from tutor.web.pages.forms import BATCH_FIELDS, SETTING_FIELDS, AskForm, LoginForm, RerunForm, as_csv

PREFILLABLE = (
    "expression",
    "point",
    "learning_rate",
    "steps",
    "fixed",
    "order",
    *SETTING_FIELDS,
    *BATCH_FIELDS,
)
PER_PAGE = 20
# What a case id can look like: anything else is not a case, and is not looked up.
CASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
SOURCES = (("web", "web form"), ("api", "API"), ("discourse", "Discourse"), ("cli", "command line"))
OUTCOME_LABELS = {
    "simultaneous_better": "simultaneous ended lower",
    "sequential_better": "sequential ended lower",
    "tie": "tie",
    "loss_went_up": "loss went up",
    "diverged": "diverged",
}
OUTCOMES = tuple((value, OUTCOME_LABELS.get(value, value)) for value in SERVICE_OUTCOMES)
YES_NO = (("yes", "yes"), ("no", "no"))
# The review page's yes/no filters: (query name, label, what "yes" means).
FEATURE_FILTERS = (
    ("sign_flip", "Sign flip", "a sequential update flipped a partial's sign"),
    ("loss_went_up", "Loss went up", "some step of some trial raised the loss"),
    ("diverged", "Diverged", "a trial diverged"),
)
METHOD_CHOICES = tuple((name, name) for name in METHODS)
SPECIAL_CASE_CHOICES = tuple((name, name) for name in SPECIAL_CASES)


def case_service() -> CaseService:
    return current_app.extensions["tutor"].cases


def analyzer() -> Analyzer:
    return current_app.extensions["tutor"].analyzer


def plot_service() -> PlotService:
    return current_app.extensions["tutor"].plots


def settings():
    return current_app.config["TUTOR_SETTINGS"]


@bp.app_template_filter("num")
def number_filter(value: float | None) -> str:
    return fmt(value)


@bp.app_template_filter("denoise")
def denoise_filter(value: float | None, scale: float | None) -> float | None:
    return denoise(value, scale)


@bp.app_template_filter("when")
def when_filter(iso: str) -> str:
    """``2026-11-25T05:35:47.211232+00:00`` -> ``2026-11-25 05:35 UTC``: minutes are enough to read."""
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return iso or ""


@bp.app_context_processor
def reviewer_flag() -> dict:
    return {"reviewer": is_reviewer()}


@bp.route("/", methods=["GET", "POST"])
def ask() -> str | Response | tuple[str, int]:
    chosen = request.args.get("example", "")
    if chosen in BY_SLUG:
        prefill = BY_SLUG[chosen].form_data()
    else:
        # Forum posts can link to a prefilled form: /?expression=x*y&point=x=1,y=2&learning_rate=0.1
        # (and methods=simultaneous,momentum&momentum=0.99 for the optimizers).
        prefill = {name: request.args[name] for name in PREFILLABLE if name in request.args}
        if "methods" in request.args:
            prefill["methods"] = re.split(r"[\s,;]+", request.args["methods"].strip())
    form = AskForm(data=prefill)
    columns: dict[str, int] = {}
    if form.validate_on_submit():
        try:
            question = question_from_text(
                form.expression.data,
                form.point.data,
                form.learning_rate.data,
                form.steps.data or "",
                form.fixed.data or "",
                form.order.data or "",
                ",".join(form.methods.data or ()),
                settings=form.settings_text(),
                data=as_csv(form["data"].data or ""),
                batch_size=form.batch_size.data or "",
                shuffle_seed=form.shuffle_seed.data or "",
            )
            case = case_service().ask(
                question, source="web", question_text=(form.question.data or "").strip() or None
            )
        except InputError as error:
            columns = attach_error(form, error)
        else:
            return redirect(url_for(".case", case_id=case["id"]), code=303)
    page = render_template(
        "ask.html",
        form=form,
        examples=EXAMPLES,
        chosen=chosen,
        columns=columns,
        method_notes=METHODS,
        setting_fields=SETTING_FIELDS,
    )
    return (page, 422) if form.errors else page


def attach_error(form, error: InputError) -> dict[str, int]:
    """Shows the engine's message next to the field it names; returns {field: column} for the caret."""
    if error.field in form:
        field = form[error.field]
        field.errors = [*field.errors, error.message]
        return {error.field: error.column} if error.column else {}
    form.form_errors.append(str(error))
    return {}


def load_case(case_id: str) -> dict:
    if not CASE_ID.match(case_id):
        abort(404)
    try:
        return case_service().get(case_id)
    except CaseNotFound:
        abort(404)


@bp.get("/cases/<case_id>")
def case(case_id: str) -> str:
    case = load_case(case_id)
    return render_case(case, RerunForm(data={"learning_rate": fmt(case["input"]["learning_rate"])}))


def render_case(case: dict, rerun_form: RerunForm, status: int = 200) -> tuple[str, int]:
    case_id = str(case["id"])
    permalink = absolute(url_for(".case", case_id=case_id))
    node_values = shown_values(case["graph"]["nodes"])
    available = plots.available(case)
    eta = eta_chart_for(case) if "line" in available else None
    plot_items = [
        {
            "name": name,
            "url": url_for(".plot", case_id=case_id, name=name),
            "alt": plots.TITLES[name],
            "caption": plots.caption(case, name),
        }
        # The η control draws the line plot's curve itself; the image stays for the forum and notebooks.
        for name in available
        if not (name == "line" and eta)
    ]
    parent_id = case.get("parent_id")
    meta = {
        "created_at": case.get("created_at", ""),
        "source": case.get("source", ""),
        "question_text": case.get("question") or "",
        "parent_url": url_for(".case", case_id=parent_id) if parent_id else None,
    }
    page = render_template(
        "case.html",
        case=case,
        case_id=case_id,
        meta=meta,
        short_answer=present.short_answer(case),
        summary=present.summary(case),
        key=present.key_table(case),
        formulas=formulas_for(case),
        diagram=present.diagram(case["graph"], node_values, case["input"].get("fixed") or ()),
        slopes=present.node_slopes(case["graph"]),
        node_values=node_values,
        steps=present.first_steps(case),
        flips=present.sign_flips(case),
        winner=present.winner(case),
        trials=present.comparison(case),
        rises=present.rises(case),
        batches=present.batch_steps(case),
        setting_symbols=present.SETTING_SYMBOLS,
        position=present.learning_rate_position(case["analysis"]) if case.get("analysis") else None,
        eta=eta,
        plots=plot_items,
        permalink=permalink,
        share_markdown=share_markdown(case, available, permalink),
        rerun_form=rerun_form,
    )
    return page, status


def eta_chart_for(case: dict) -> present.EtaChart | None:
    """The η control's curve, evaluated in the analysis workers (it builds the engine's Problem)."""
    try:
        curve = analyzer().run(plots.loss_change_curve, case, settings().limits, present.PAGE_SAMPLES)
    except (InputError, AnalysisUnavailable):
        # As for the formulas: the page still answers, with the line plot as an image instead.
        return None
    return present.eta_chart(case, curve)


def formulas_for(case: dict) -> dict | None:
    expression, parameters = case["input"]["expression"], tuple(case["parameters"])
    try:
        written = analyzer().run(mathml.formulas, expression, parameters, settings().limits)
    except (InputError, AnalysisUnavailable):
        # A case saved under older limits may no longer parse (or the workers are down): the page
        # shows the plain formulas then.
        return None
    # Safe: display's MathML printer wrote this from the engine's parsed tree, not from the learner's text.
    return {
        "f": Markup(written["f"]),  # noqa: S704
        "definitions": [Markup(text) for text in written["definitions"]],  # noqa: S704
        "partials": {name: Markup(text) for name, text in written["partials"].items()},  # noqa: S704
    }


def absolute(path: str) -> str:
    # The configured public address, never the request's Host header, which a client chooses.
    return settings().public_url + path


def share_markdown(case: dict, available: list[str], permalink: str) -> str:
    images = [
        f"![{plots.TITLES[name]}]({absolute(url_for('.plot', case_id=str(case['id']), name=name))})"
        for name in available
    ]
    parts = [
        case["explanation"]["markdown"].rstrip(),
        *images,
        f"The whole answer, with the graph: {permalink}",
    ]
    return "\n\n".join(parts) + "\n"


@bp.get("/cases/<case_id>/plots/<name>.png")
# Its own count, so a page's plots do not use up the pages' allowance; a flood of plot requests is
# stopped like any other, and each plot is drawn once however many ask (tutor.services.plots).
@limiter.limit(lambda: settings().rate_limit, scope="plots")
def plot(case_id: str, name: str) -> Response:
    if not CASE_ID.match(case_id):
        abort(404)
    service = plot_service()
    png = service.stored(case_id, name)
    if png is None:
        case = load_case(case_id)
        if name not in plots.available(case):
            abort(404)
        try:
            png = service.png(case, name)
        except CaseNotFound:
            abort(404)  # deleted while it was being drawn
    response = current_app.response_class(png, mimetype="image/png")
    # A case never changes (a re-run makes a new one), so its plots can be cached by anyone.
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/cases/<case_id>/rerun")
def rerun_form(case_id: str) -> Response:
    # Reloading or bookmarking the page a refused re-run left behind: back to the case's form.
    return redirect(url_for(".case", case_id=load_case(case_id)["id"], _anchor="rerun-heading"), code=303)


@bp.post("/cases/<case_id>/rerun")
def rerun(case_id: str) -> Response | tuple[str, int]:
    case = load_case(case_id)
    form = RerunForm()
    if form.validate_on_submit():
        try:
            rate = parse_number(form.learning_rate.data, "learning_rate")
            new_case = case_service().rerun(case["id"], rate, source="web")
        except InputError as error:
            attach_error(form, error)
        else:
            return redirect(url_for(".case", case_id=new_case["id"]), code=303)
    return render_case(case, form, status=422)


@bp.get("/cases")
@reviewer_required
def review() -> str:
    filters = {
        "source": choice(request.args.get("source", ""), SOURCES),
        "outcome": choice(request.args.get("outcome", ""), OUTCOMES),
        "search": request.args.get("search", "").strip()[:200],
        "since": request.args.get("since", "").strip(),
        "until": request.args.get("until", "").strip(),
        **{name: choice(request.args.get(name, ""), YES_NO) for name, _, _ in FEATURE_FILTERS},
        "method": choice(request.args.get("method", ""), METHOD_CHOICES),
        "special_case": choice(request.args.get("special_case", ""), SPECIAL_CASE_CHOICES),
    }
    try:
        since, until = created_between(day(filters["since"]), day(filters["until"]))
    except InputError:
        # A date no one created a case on (year 9999): the filter means nothing, so it is dropped.
        since = until = None
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    where = CaseFilter(
        source=filters["source"] or None,
        outcome=filters["outcome"] or None,
        search=filters["search"] or None,
        since=since,
        until=until,
        **{name: {"yes": True, "no": False}.get(filters[name]) for name, _, _ in FEATURE_FILTERS},
        method=filters["method"] or None,
        special_case=filters["special_case"] or None,
    )
    result = case_service().list(where, page=page, per_page=PER_PAGE)
    query = {name: value for name, value in filters.items() if value}
    return render_template(
        "cases.html",
        items=[{**item, "question_start": first_words(item["question"])} for item in result.items],
        total=result.total,
        page=page,
        pages=result.pages,
        filters=filters,
        query=query,
        sources=SOURCES,
        outcomes=OUTCOMES,
        outcome_labels=OUTCOME_LABELS,
        feature_filters=FEATURE_FILTERS,
        methods=METHOD_CHOICES,
        special_cases=SPECIAL_CASE_CHOICES,
        basic_methods=list(BASIC_METHODS),
    )


def choice(value: str, choices: tuple[tuple[str, str], ...]) -> str:
    return value if value in dict(choices) else ""


def day(text: str) -> date | None:
    """The review form's date (its date inputs send 2025-01-31); anything else is no filter."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@bp.get("/cases/<case_id>/delete")
@reviewer_required
def confirm_delete(case_id: str) -> str:
    """Deleting cannot be undone, so the list links here first: the case, and a button that deletes it."""
    case = load_case(case_id)
    back = safe_next(request.args.get("next")) or url_for(".review")
    return render_template("delete.html", case=case, back=back)


@bp.post("/cases/<case_id>/delete")
@reviewer_required
def delete(case_id: str) -> Response:
    case = load_case(case_id)
    try:
        case_service().delete(case["id"])
    except CaseNotFound:
        abort(404)  # deleted by another reviewer in the meantime
    flash(f"Deleted the case for {case['input']['expression']}.")
    # Back to the list as the reviewer filtered it.
    return redirect(safe_next(request.form.get("next")) or url_for(".review"), code=303)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])  # slows down guessing the token
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    status = 200
    if form.validate_on_submit():
        if token_matches(form.token.data):
            sign_in()
            return redirect(next_url or url_for(".review"), code=303)
        form.token.errors = [*form.token.errors, "That is not the admin token."]
        status = 403
    elif form.errors:
        status = 422
    configured = bool(settings().admin_token)
    return render_template("login.html", form=form, next=next_url, configured=configured), status


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, so the sign-in page cannot be used to redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return None
    return target


@bp.post("/logout")
def logout() -> Response:
    sign_out()
    return redirect(url_for(".ask"), code=303)
