"""Alembic migrations of the tutor's database. Run them with ``tutor db upgrade``.

A package (not a loose folder) so the scripts ship in the wheel and are found from any working
directory: ``tutor.persistence.migrate`` points Alembic at this package's folder.
"""
