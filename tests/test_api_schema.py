"""Property-based checks of the API against its own OpenAPI schema (schemathesis): no 5xx, responses conform."""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from hypothesis import HealthCheck, given, settings as hypothesis_settings

from policykb.service.api import create_app
from policykb.config import Settings
from policykb.kb import KnowledgeBase

from .conftest import RECORDS


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    (root / "corpus").mkdir()
    (root / "corpus" / "records.yaml").write_text(RECORDS, encoding="utf-8")
    settings = Settings(home=root / "kb", model="hashing", moderator_tokens=["tester:secret-token-for-tests"],
                        contributions_per_hour=10_000)
    with KnowledgeBase(settings) as kb:
        kb.ingest([root / "corpus"])
    return create_app(settings)


def test_api_conforms_to_its_schema(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 25
    for operation in operations:

        @given(operation.as_strategy())
        @hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck),
                             database=None)
        def check(case):
            # Facet parameters are free text in the schema (ids, labels and synonyms are all accepted)
            # and checked against the taxonomy at run time: a 422 for an unknown value is by design.
            case.call_and_validate(excluded_checks=[positive_data_acceptance],
                                   headers={"Authorization": "Bearer secret-token-for-tests"})

        check()
