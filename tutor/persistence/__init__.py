"""Saved cases: the tables, the sessions, the repository that writes and queries them, migrations."""

# integrations adds the API token and Discourse post tables to Base.metadata, which migrations compare with;
# shared the secret key and the plots.
from tutor.persistence import integrations, shared  # noqa: F401
from tutor.persistence.database import Database, make_engine
from tutor.persistence.models import Base, Case, Trial, TrialStep

__all__ = ["Base", "Case", "Database", "Trial", "TrialStep", "make_engine"]
