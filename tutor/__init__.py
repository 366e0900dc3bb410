"""The backprop tutor: answers gradient-descent questions with the learner's own numbers."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``from tutor import explain`` for notebooks, imported on first use: ``import tutor`` (the web
    # server's, the CLI's) stays light, without SymPy, NumPy or matplotlib.
    if name == "explain":
        from tutor.notebook import explain

        return explain
    raise AttributeError(f"module 'tutor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*globals(), "explain"]
