"""Saved cases: the tables, the sessions, the repository that writes and queries them, migrations."""

from tutor.persistence.database import Database, make_engine
from tutor.persistence.models import Base, Case, Trial, TrialStep

__all__ = ["Base", "Case", "Database", "Trial", "TrialStep", "make_engine"]
