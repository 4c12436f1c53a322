"""/api/schema/ (OpenAPI 3 from drf-spectacular, bot/api/schema.py) and the documentation page /api/docs/."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

PATHS = {
    "/api/tweets/",
    "/api/tweets/{x_id}/",
    "/api/labels/",
    "/api/deliveries/",
    "/api/deliveries/{id}/",
    "/api/deliveries/{id}/body/",
}


@pytest.fixture
def served(api) -> dict:
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_it_is_a_valid_openapi_3_document(served):
    assert served["openapi"].startswith("3.")
    validate(served)


def test_it_is_yaml_unless_json_is_asked_for(api, served):
    response = api.get("/api/schema/")
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(response.content) == served


def test_it_describes_every_endpoint_and_only_reads(served):
    assert set(served["paths"]) == PATHS
    assert {method for operations in served["paths"].values() for method in operations} == {"get"}


def test_it_names_the_token_and_the_session(served):
    assert set(served["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
    token = served["components"]["securitySchemes"]["tokenAuth"]
    assert (token["type"], token["in"], token["name"]) == ("apiKey", "header", "Authorization")


def test_every_x_id_is_a_string(served):
    x_ids = {
        f"{component}.{name}": prop
        for component, schema in served["components"]["schemas"].items()
        for name, prop in schema.get("properties", {}).items()
        if name == "x_id" or name.endswith("_x_id") or name.endswith("_x_ids")
    }
    assert {"Tweet.x_id", "Tweet.author_x_id", "TweetDetail.in_reply_to_x_id", "Reply.x_id", "Delivery.tweet_x_ids"} <= set(x_ids)
    for name, prop in x_ids.items():
        assert prop.get("type") == "string" or prop.get("items", {}).get("type") == "string", name


def test_errors_and_limits_are_documented(served):
    tweets = served["paths"]["/api/tweets/"]["get"]
    assert set(tweets["responses"]) == {"200", "400", "401", "403", "429"}
    assert set(served["paths"]["/api/tweets/{x_id}/"]["get"]["responses"]) == {"200", "401", "403", "404", "429"}
    parameters = {parameter["name"]: parameter for parameter in tweets["parameters"]}
    assert parameters["limit"]["schema"] | {"type": "integer"} == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert parameters["status"]["schema"]["items"]["enum"] == sorted(["received", "processing", "done", "failed", "skipped", "deleted"])
    assert all(parameter["allowEmptyValue"] for parameter in tweets["parameters"])


class TestDocsPage:
    def test_it_is_swagger_ui_on_the_schema(self, api):
        response = api.get("/api/docs/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "SwaggerUIBundle" in page
        assert '"/api/schema/"' in page

    def test_its_files_come_from_the_pinned_package_not_a_cdn(self, api):
        page = api.get("/api/docs/").content.decode()
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert sources, page
        assert all(source.startswith("/static/drf_spectacular_sidecar/") for source in sources), sources
        assert "cdn" not in page.lower()
        for source in sources:
            assert finders.find(source.removeprefix("/static/")), source
