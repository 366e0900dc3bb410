"""Shared by every test folder. Being here, this file also puts tests/ on sys.path, so that the
folders share helpers as ``support.…`` (tests/support/): the skip-locally-fail-in-CI rule, the live
server, the test apps, the fake forum and the API's sample questions."""

# Hypothesis profiles (the property tests and schemathesis both run on hypothesis): random exploration
# on developers' machines, a fixed sequence of examples in CI, so that a submission passes or fails on
# its own merits; an edge case found by chance locally is fixed and pinned as a regression test.
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
