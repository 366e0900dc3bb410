"""The pages' forms. Number fields are text, so a learner's input comes back exactly as typed; the
engine's ``question_from_text`` does the real checking and names the field and column at fault."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

FIELD_LENGTH = 1000
QUESTION_LENGTH = 4000


class AskForm(FlaskForm):
    expression = StringField(
        "Function f",
        validators=[InputRequired("Type the function to minimise."), Length(max=FIELD_LENGTH)],
        description="Use + − * / ** (or ^), parentheses and exp log sqrt sin cos tan tanh sinh cosh atan "
        "sigmoid softplus relu abs (one argument), max min (two).",
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
        description="How many updates each scheme makes (1 if empty).",
    )
    fixed = StringField(
        "Held fixed (optional)",
        validators=[Length(max=FIELD_LENGTH)],
        description="Variables that are data, not weights: they keep their value, e.g. x0, x1.",
    )
    order = StringField(
        "Sequential order (optional)",
        validators=[Length(max=FIELD_LENGTH)],
        description="The order in which the one-at-a-time scheme updates the weights, e.g. z, y, x.",
    )
    question = TextAreaField(
        "Your question (optional)",
        validators=[Length(max=QUESTION_LENGTH)],
        description="In your own words; it is kept with the case and shown on its page.",
    )


class RerunForm(FlaskForm):
    learning_rate = StringField(
        "Another learning rate η",
        validators=[InputRequired("Give a learning rate, e.g. 0.01."), Length(max=100)],
    )


class LoginForm(FlaskForm):
    token = PasswordField("Admin token", validators=[InputRequired("Type the admin token.")])
