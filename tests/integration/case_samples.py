"""Questions with a known kind of outcome, and a worker for the multi-process tests.

A module of its own (not conftest) so that test modules and spawned worker processes can import it.
"""

from __future__ import annotations

from tutor.engine import question_from_text


def question(expression: str, point: str, learning_rate: str = "0.01", steps: str = "1", **kwargs):
    return question_from_text(expression, point, learning_rate, steps, **kwargs)


# Questions with a known winner, each checked by the tests against the trials' own final losses.
SEQUENTIAL_BETTER = ("(x+y)*z", "x=-2, y=5, z=-4", "0.01", "2")
SIMULTANEOUS_BETTER = ("x*y", "x=1, y=1", "0.5", "1")
TIE = ("x**2 + y**2", "x=1, y=1", "0.1", "1")
DIVERGES = ("x**2", "x=1", "10", "200")
# The review columns' cases. The ill-conditioned bowl: f is separable, so both schemes take the same
# steps, and η = 0.011 is past 2/200 for y, so the loss rises every step: never a tie.
RISES = ("x**2 + 100*y**2", "x=1, y=1", "0.011", "3")
FLIPS = ("x*y", "x=0.01, y=1", "0.1", "1")  # moving x first flips the sign of ∂f/∂y
STATIONARY = ("x**2 + y**2", "x=0, y=0", "0.1", "1")
KINK = ("abs(x) + y**2", "x=0, y=1", "0.1", "1")
UNDEFINED = ("log(x)", "x=-1", "0.1", "1")


class FixedAnalyzer:
    """Answers every question with one document: the workers then spend their time writing."""

    def __init__(self, document: dict):
        self.document = document

    def answer(self, question) -> dict:
        return self.document


def save_cases(database_url: str, job: dict, barrier, results, number: int) -> None:
    """A worker process: waits for the others, saves job["cases"] cases, reports their ids."""
    from tutor.persistence import Database
    from tutor.services.cases import CaseService, question_from_input

    ids: list[str] = []
    try:
        service = CaseService(Database.from_url(database_url), FixedAnalyzer(job["document"]))
        # The question the fixed answer belongs to: a retry under an idempotency key must ask it.
        q = question_from_input(job["document"]["input"])
        barrier.wait(timeout=120)
        for _ in range(job["cases"]):
            case = service.ask(q, source=job["source"], idempotency_key=job.get("key"))
            ids.append(case["id"])  # acknowledged: ask returned after the commit
        service.close()
        results.put((number, ids, None))
    except Exception as error:  # reported to the test, which fails with it
        results.put((number, ids, f"{type(error).__name__}: {error}"))
