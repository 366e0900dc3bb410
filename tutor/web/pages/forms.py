"""The pages' forms. Number fields are text, so a learner's input comes back exactly as typed; the
engine's ``question_from_text`` does the real checking and names the field and column at fault."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from tutor.engine import BASIC_METHODS
from tutor.engine.question import METHODS, SETTINGS

FIELD_LENGTH = 1000
QUESTION_LENGTH = 4000
# A thousand rows (the engine's limit) of a few columns, within the request size limit.
DATA_LENGTH = 50_000
SETTING_LABELS = {
    "momentum": "Momentum μ",
    "beta1": "Adam β1",
    "beta2": "Adam β2",
    "eps": "ε (Adam, RMSprop)",
    "alpha": "RMSprop α",
}
# The fields of the "Optimizers and mini-batches" part of the ask form, closed unless one is in use.
SETTING_FIELDS = tuple(SETTINGS)
BATCH_FIELDS = ("data", "batch_size", "shuffle_seed")
# The fields of the "Inputs held fixed and the update order" part, closed unless one is in use.
VARIABLE_FIELDS = ("fixed", "order")


class Checkboxes(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class Group(Field):
    """Not an input: the fieldset of several inputs that an engine error names as one field (the
    engine's "settings" error is about the optimizer settings, not one input). Never rendered itself;
    its id is the fieldset's, so the error summary links there."""


def setting_field(name: str) -> StringField:
    default = SETTINGS[name][0]
    return StringField(
        SETTING_LABELS[name],
        validators=[Length(max=100)],
        description=f"Blank: {default:g}, torch's default.",
    )


def as_csv(text: str) -> str:
    """The table as the CSV the engine reads. A paste from a spreadsheet separates cells by tabs and a
    typed table often by spaces: without a comma anywhere, each line's cells are split on whitespace.
    Line numbers stay the same, so the engine's "line N" still points at the learner's line."""
    if "," in text:
        return text
    return "\n".join(",".join(line.split()) for line in text.splitlines())


class AskForm(FlaskForm):
    expression = StringField(
        "Function f",
        validators=[InputRequired("Type the function to minimise."), Length(max=FIELD_LENGTH)],
        # Short enough that the submit button stays on a laptop's first screen; a misspelt function's
        # refusal lists every function.
        description="+ − * / ^ and functions such as sigmoid, relu, tanh, exp, log, sqrt, abs, max(a, b). "
        "LaTeX works too: $\\frac{1}{2}(\\hat{y} - y)^2$.",
    )
    point = StringField(
        "Starting point",
        validators=[InputRequired("Give a value for every variable."), Length(max=FIELD_LENGTH)],
        description="A value for every variable, e.g. x=-2, y=5, z=-4.",
    )
    learning_rate = StringField(
        "Learning rate η",
        validators=[InputRequired("Give a learning rate, e.g. 0.01."), Length(max=100)],
        description="A positive number, e.g. 0.01.",
    )
    steps = StringField(
        "Steps",
        validators=[Length(max=100)],
        default="1",
        description="Updates per scheme (1 if empty).",
    )
    fixed = StringField(
        "Held fixed (optional)",
        validators=[Length(max=FIELD_LENGTH)],
        description="Variables that are data, not weights, e.g. x0, x1: they keep their value.",
    )
    order = StringField(
        "Sequential order (optional)",
        validators=[Length(max=FIELD_LENGTH)],
        description="The order in which the one-at-a-time scheme moves the weights, e.g. z, y, x.",
    )
    methods = Checkboxes(
        "Methods to run",
        choices=[SelectChoice(name) for name in METHODS],
        default=list(BASIC_METHODS),
        description="Each runs from the same starting point for the same number of steps. None checked: "
        "simultaneous and sequential. minibatch needs data and a batch size (a batch size adds it).",
    )
    settings = Group("Optimizer settings")
    momentum = setting_field("momentum")
    beta1 = setting_field("beta1")
    beta2 = setting_field("beta2")
    eps = setting_field("eps")
    alpha = setting_field("alpha")
    # Shadows FlaskForm.data (the dict of every field's data), which the pages never use: the engine
    # names this field "data" in its errors, and the form keeps the engine's names.
    data = TextAreaField(
        "Data rows (optional)",
        validators=[Length(max=DATA_LENGTH)],
        description="A table with a header of symbol names, one example per line, e.g. x,y then 1,2.5. "
        "Commas, or cells pasted from a spreadsheet. f is then the loss of one example, and the loss "
        "every trial lowers is its mean over the rows.",
    )
    batch_size = StringField(
        "Batch size",
        validators=[Length(max=100)],
        description="Rows per mini-batch step; adds the minibatch trial. Needs data.",
    )
    shuffle_seed = StringField(
        "Shuffle seed (optional)",
        validators=[Length(max=100)],
        description="Shuffles the rows each epoch with this seed. Blank: batches in row order.",
    )
    question = TextAreaField(
        "Your question (optional)",
        validators=[Length(max=QUESTION_LENGTH)],
        description="In your own words; it is kept with the case and shown on its page.",
    )

    def advanced_in_use(self) -> bool:
        """Whether the optimizers and mini-batches part holds anything but its defaults, or an error:
        then it is shown open, so nothing typed or wrong there is hidden."""
        names = ("methods", "settings", *SETTING_FIELDS, *BATCH_FIELDS)
        if any(self[name].errors for name in names):
            return True
        if self.methods.data and set(self.methods.data) != set(BASIC_METHODS):
            return True
        return any((self[name].data or "").strip() for name in (*SETTING_FIELDS, *BATCH_FIELDS))

    def variables_in_use(self) -> bool:
        """Whether the held-fixed inputs or the update order are given, or wrong: then that part is open."""
        return any(self[name].errors or (self[name].data or "").strip() for name in VARIABLE_FIELDS)

    def settings_text(self) -> dict[str, str]:
        return {name: self[name].data or "" for name in SETTING_FIELDS}


class RerunForm(FlaskForm):
    learning_rate = StringField(
        "Another learning rate η",
        validators=[InputRequired("Give a learning rate, e.g. 0.01."), Length(max=100)],
    )


class LoginForm(FlaskForm):
    token = PasswordField("Admin token", validators=[InputRequired("Type the admin token.")])
