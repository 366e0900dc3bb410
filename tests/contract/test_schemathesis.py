"""Schemathesis against /openapi.json: every operation, with generated valid and invalid requests,
must answer as its OpenAPI description says (status codes, content types, bodies, headers) and never
with a server error. In-process through WSGI, with the engine answering in this process.

The app is built when the module is imported: schemathesis reads the schema to parametrize the test
at collection time (its lazy fixture loader does not work with this pytest).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from support.apps import migrated_sqlite, new_app

import tutor.engine
from tutor.config import Settings

ADMIN_TOKEN = "contract-admin-token"


def make_app(root: Path):
    settings = Settings(database_url=migrated_sqlite(root), secret_key="test", admin_token=ADMIN_TOKEN)
    app = new_app(settings, root / "instance", TESTING=True, RATELIMIT_ENABLED=False)
    app.extensions["tutor"].cases.analyzer = tutor.engine
    return app


ROOT = Path(tempfile.mkdtemp(prefix="tutor-contract-"))
APP = make_app(ROOT)
# A schema cannot say which expressions parse or which points lie in f's domain: the engine refuses
# those schema-valid questions with 422 and says why, which is the answer the API promises. And a
# generated body may be larger than any request may be: 413 is a rejection too.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "413", "422"]
            },
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "403", "404", "405", "409", "413", "422", "429"]
            },
        }
    }
)
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def clean_up():
    yield
    APP.extensions["tutor"].close()
    shutil.rmtree(ROOT, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
