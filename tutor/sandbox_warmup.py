"""Imported by the analysis pool's fork server only (see ``tutor.sandbox``): it answers the warm-up
question once there, so that every worker forked from the fork server starts with SymEngine's and NumPy's
first-use costs already paid (a new process's first answer costs hundreds of milliseconds more than
its next). A worker that replaces a killed one is then ready in milliseconds, not seconds."""

from tutor.engine import answer
from tutor.sandbox import WARM_UP

answer(WARM_UP)
