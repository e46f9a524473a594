"""The OpenAPI document tells the truth: real responses of the real app, for successes and for
refusals, validate against the schema the document gives for that path, method and status."""
import re

import jsonschema
import pytest

from lbctl import rest
from tests.unit.sample import DNS, WEB

ONE_ARM = dict(WEB, name="arm", address="198.18.0.110", mode="one-arm", snat_pool={"addresses": ["198.18.0.200"]})
CALLS = [
    ("POST", "/v1/vips", WEB), ("POST", "/v1/vips", DNS), ("POST", "/v1/vips", ONE_ARM),
    ("GET", "/v1/vips", None), ("GET", "/v1/vips/web", None), ("PUT", "/v1/vips/web", dict(WEB, port=8080)),
    ("POST", "/v1/vips", dict(WEB, port=0)), ("POST", "/v1/vips", DNS), ("GET", "/v1/vips/nope", None),
    ("GET", "/v1/hosts", None), ("GET", "/v1/hosts/198.18.0.11", None), ("DELETE", "/v1/hosts/198.18.0.99", None),
    ("GET", "/v1/stats", None), ("DELETE", "/v1/vips/dns", None), ("GET", "/v1/openapi.json", None),
    ("GET", "/v1/flows", None),
    # No monitor_address in this controller's configuration: a monitored VIP is refused.
    ("POST", "/v1/vips", dict(WEB, name="probed", address="198.18.0.120", health_monitor={"type": "tcp"})),
]


def operation(document, method, path):
    for template, item in document["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
            return item[method.lower()]
    raise AssertionError("%s %s is not in the document" % (method, path))


def test_every_response_matches_the_document(api):
    status, document = api("GET", "/v1/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    api("POST", "/v1/vips", dict(WEB, name="first", port=81))
    api.core.hosts.learn(1, (0, "198.18.0.11"), "0a:00:00:00:00:11", 2, now=1.0)
    seen = set()
    for method, path, body in CALLS:
        status, doc = api(method, path, body)
        responses = operation(document, method, path)["responses"]
        assert str(status) in responses, "%s %s answered %d, which the document does not list" % (method, path, status)
        schema = responses[str(status)].get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            assert doc is None
        else:
            jsonschema.validate(doc, dict(schema, components=document["components"]))
        seen.add(status)
    assert {200, 201, 204, 400, 404, 409} <= seen


@pytest.mark.parametrize("body", [WEB, ONE_ARM, dict(DNS, algorithm="source_ip")])
def test_accepted_bodies_are_valid_by_the_document(api, body):
    document = api("GET", "/v1/openapi.json")[1]
    jsonschema.validate(body, dict(document["components"]["schemas"]["VipIn"], components=document["components"]))


def test_a_stale_if_match_is_a_documented_refusal(api):
    document = api("GET", "/v1/openapi.json")[1]
    api("POST", "/v1/vips", WEB)
    status, doc = api("PUT", "/v1/vips/web", WEB, headers={"If-Match": '"0000000000000000"'})
    assert status == 412
    schema = operation(document, "PUT", "/v1/vips/web")["responses"]["412"]["content"]["application/json"]["schema"]
    jsonschema.validate(doc, dict(schema, components=document["components"]))


def test_the_document_lists_exactly_the_paths_and_methods_the_api_serves(api):
    document = api("GET", "/v1/openapi.json")[1]
    served = {(method, path.template) for path in rest.PATHS.values() for method in path.handlers}
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item
                  if method != "parameters"}
    assert served == documented


def test_every_schema_of_the_document_is_a_valid_json_schema(api):
    """OpenAPI 3.1's schemas are JSON Schema 2020-12: a client generator or a fuzzer refuses the
    whole document for one bad schema (a counter listed twice in `required`, say)."""
    document = api("GET", "/v1/openapi.json")[1]
    for name, schema in document["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise AssertionError("schema %s: %s" % (name, error.message)) from None
