"""The REST API fuzzed from its own OpenAPI document (schemathesis), against the real `ryu-manager
lbctl_app` on the real switch, plus the hostile inputs a fuzzer does not make by itself.

What `test_fuzzed_requests_...` asserts, request by request, for every one of at least 1,000
requests that schemathesis generates from GET /v1/openapi.json (every operation; positive and, where
there is something to make invalid, negative data):

- no 5xx, and nothing but a 2xx or a 4xx;
- the response conforms to the document: status code documented for the operation, content type,
  headers, body schema (schemathesis' response checks), and negative (schema-invalid) data is not
  accepted; positive data may still be refused (schemathesis' positive_data_acceptance is not
  used): the document cannot say that an address:port is taken, that a dsr member keeps the
  VIP's port, or that 80.0 is not taken for 80;
- every 4xx carries Content-Type application/json and a body {"error": "<non-empty string>"};
- every 4xx, whatever its method, changed nothing: the configured VIP set (GET /v1/vips, without
  the members' learned locations), the state file byte for byte, and the switch's flows, groups
  and meters (`switch_text`, exactly, dumped after the request) are those of before it;
- every accepted change (2xx POST, PUT or DELETE) is applied whole: the switch comes to hold
  exactly the pipeline computed from the saved VIP set and the learned hosts (bucket and slot
  order aside) -- no half-applied change. That state is the reference for the next refusals.

At the end, the VIPs the fuzzer created are deleted, and the VIP set and the switch must be those
of the start. The lab's own VIP `web`, a VIP `fuzz` made for PUTs to replace, and the lab's hosts
are kept out of the fuzzed path parameters of PUT and DELETE (`fuzz` is PUT only), so that every
change in the run is one the fuzzer made through the API and can be undone through it.

Violations are collected over the whole run (all operations, both modes, no shrinking) and
reported together, one example each (a curl command), rather than stopping at the first.
The run is reproducible (derandomized) and bounded (MAX_EXAMPLES per operation and mode).
"""
import json
import threading
import time
from collections import defaultdict
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)

from lab import topology
from lab.lbctl import shares, switch_text
from lbctl import store

LAB_HOSTS = {topology.CLIENT[1]} | {ip for _, ip, _ in topology.MEMBERS}
FUZZ = {"name": "fuzz", "address": "198.18.0.150", "port": 80,
        "members": [{"address": "198.18.0.11"}, {"address": "198.18.0.12"}]}
# Requests per operation and generation mode (hypothesis max_examples).
MAX_EXAMPLES = {"POST /v1/vips": 150, "PUT /v1/vips/fuzz": 150}
DEFAULT_EXAMPLES = 60
MIN_REQUESTS = 1000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
SETTLE_TIMEOUT = 10.0


class Api:
    """The controller's REST API as a client sees it, and what a refused request must not change."""

    def __init__(self, lab, lb):
        self.lab, self.lb = lab, lb
        self.base = "http://127.0.0.1:%d" % lb.rest_port
        self.session = requests.Session()

    def call(self, method, path, body=None, raw=None, headers=None, own_connection=False):
        """-> (status, Content-Type, the body parsed as JSON or None if it is not JSON).
        `own_connection`: not the shared session's (for calls from several threads)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = dict({"Content-Type": "application/json"} if data is not None else {}, **(headers or {}))
        send = requests.request if own_connection else self.session.request
        reply = send(method, self.base + path, data=data, headers=headers, timeout=30)
        try:
            doc = reply.json() if reply.content else None
        except ValueError:
            doc = None
        return reply.status_code, reply.headers.get("Content-Type", ""), doc

    def vips(self):
        """The configured VIP set: GET /v1/vips without the members' learned locations."""
        status, _, vips = self.call("GET", "/v1/vips")
        assert status == 200
        for vip in vips:
            for member in vip["members"]:
                member.pop("locations", None)
        return vips

    def networks(self):
        status, _, networks = self.call("GET", "/v1/networks")
        assert status == 200
        return networks

    def state(self):
        """What a refused request must leave alone: VIP set, networks, state file, switch."""
        state_file = self.lb.state_file
        return {"vips": self.vips(), "networks": self.networks(),
                "state file": state_file.read_bytes() if state_file.exists() else None, "switch": switch_text(self.lab)}

    def settled(self, timeout=SETTLE_TIMEOUT):
        """Wait until the switch holds exactly the pipeline of the saved VIP set and the learned hosts;
        -> None, or what still differs after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            expected = shares(self.lb.expected_switch_text().splitlines())
            actual = shares(switch_text(self.lab))
            if actual == expected:
                return None
            if time.monotonic() > deadline:
                return {"missing": sorted(set(expected) - set(actual))[:5],
                        "unexpected": sorted(set(actual) - set(expected))[:5]}
            time.sleep(0.02)


@pytest.fixture(scope="module")
def api(lab, lb):
    return Api(lab, lb)


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory):
    """Hypothesis keeps its caches in a temporary directory, not in the checkout (.hypothesis/)."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


def is_error_body(content_type, doc):
    return (content_type.split(";")[0].strip() == "application/json" and isinstance(doc, dict)
            and isinstance(doc.get("error"), str) and doc["error"] != "")


def assert_refused(api, before, reply, status, text_in_error=""):
    got, content_type, doc = reply
    assert got == status, reply
    assert is_error_body(content_type, doc), reply
    assert text_in_error in doc["error"], reply
    assert api.state() == before, "a refused request changed nothing"


# ---------------------------------------------------------------- the fuzzer

class Run:
    """Requests made, and violations by (operation, mode, kind) -> [count, first example]."""

    def __init__(self):
        self.requests = 0
        self.statuses = defaultdict(int)
        self.violations = {}

    def violation(self, case, mode, kind, detail):
        key = (case.operation.label, mode.value, kind)
        if key not in self.violations:
            self.violations[key] = [0, "%s\n%s" % (case.as_curl_command(), detail)]
        self.violations[key][0] += 1

    def report(self):
        return "\n\n".join("%s (%s): %s -- %d time(s), e.g.:\n%s" % (label, mode, kind, n, example[:1500])
                           for (label, mode, kind), (n, example) in sorted(self.violations.items()))


def exchange(api, run, reference, case, mode):
    """Send one generated request and check its response; `reference` is the state before it."""
    response = case.call(base_url=api.base, session=api.session, timeout=30)
    run.requests += 1
    status = response.status_code
    run.statuses[(case.operation.label, mode.value, status)] += 1
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseExceptionGroup as group:
        for failure in group.exceptions:
            run.violation(case, mode, "%s %s" % (getattr(failure, "code", ""), getattr(failure, "title", "")),
                          str(failure))
    except AssertionError as failure:
        run.violation(case, mode, "%s %s" % (getattr(failure, "code", ""), getattr(failure, "title", "")), str(failure))
    if 400 <= status < 500:
        content_type = ",".join(response.headers.get("content-type", []))   # lowercase keys, list values
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not is_error_body(content_type, doc):
            run.violation(case, mode, "a %d without a JSON {\"error\": ...} body" % status,
                          "%s %r" % (content_type, response.text[:300]))
        after = api.state()
        for part in after:
            if after[part] != reference[part]:
                run.violation(case, mode, "a refused request (%d) changed the %s" % (status, part),
                              "%d %s" % (status, response.text[:300]))
                reference.update(after)
                break
    elif 200 <= status < 300:
        if case.method.upper() != "GET":
            still = api.settled()
            if still:
                run.violation(case, mode, "the switch did not come to hold the saved VIP set's pipeline",
                              "%d: %s" % (status, still))
            reference.update(api.state())
    else:
        run.violation(case, mode, "status %d: neither a 2xx nor a 4xx" % status, response.text[:300])


def kept_out(case):
    """Requests that would change the lab's own VIP or hosts (see the module's docstring)."""
    params = case.path_parameters or {}
    name, ip = params.get("name"), params.get("ip")
    return (case.method.upper() in ("PUT", "DELETE")
            and ((isinstance(name, str) and name.rstrip("\n") in ("web", "fuzz"))
                 or (isinstance(ip, str) and ip.rstrip("\n") in LAB_HOSTS)))


def fuzz(api, run, operation, mode, examples, path_parameters=None):
    reference = api.state()
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    if path_parameters is None:
        strategy = strategy.filter(lambda case: not kept_out(case))

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(case=strategy)
    def one(case):
        exchange(api, run, reference, case, mode)

    try:
        one()
    except Unsatisfiable:   # nothing to make invalid: an operation without parameters or body
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_fuzzed_requests_get_documented_answers_and_refusals_change_nothing(api):
    start = api.state()
    start_vips = {vip["name"] for vip in start["vips"]}
    assert api.settled() is None
    start_switch = shares(start["switch"])
    schema = schemathesis.openapi.from_url(api.base + "/v1/openapi.json")
    status, _, created = api.call("POST", "/v1/vips", FUZZ)
    assert status == 201, created
    assert api.settled() is None
    run = Run()
    began = time.monotonic()

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(api, run, operation, mode, MAX_EXAMPLES.get(operation.label, DEFAULT_EXAMPLES))
            if operation.label == "PUT /v1/vips/{name}":   # and PUTs that find a VIP to replace
                fuzz(api, run, operation, mode, MAX_EXAMPLES["PUT /v1/vips/fuzz"], {"name": "fuzz"})
    fuzzing = time.monotonic() - began

    undeletable = []
    for vip in api.vips():
        if vip["name"] not in start_vips:
            status, _, doc = api.call("DELETE", "/v1/vips/" + quote(vip["name"], safe=""))
            if status != 204:
                undeletable.append((vip["name"], status, doc))
    start_networks = {network["name"] for network in start["networks"]}
    for network in api.networks():
        if network["name"] not in start_networks:
            status, _, doc = api.call("DELETE", "/v1/networks/" + quote(network["name"], safe=""))
            if status != 204:
                undeletable.append((network["name"], status, doc))
    still = api.settled()
    end = api.state()
    statuses = defaultdict(int)
    for (_, _, status), n in run.statuses.items():
        statuses[status] += n
    print("\n%d fuzzed requests in %.1f s; statuses %s" % (run.requests, fuzzing, dict(sorted(statuses.items()))))

    problems = []   # all of them at once: a violation does not hide what the cleanup found
    if run.requests < MIN_REQUESTS:
        problems.append("only %d fuzzed requests, not %d" % (run.requests, MIN_REQUESTS))
    if run.violations:
        problems.append("%d kind(s) of violation:\n\n%s" % (len(run.violations), run.report()))
    if undeletable:
        problems.append("VIPs or networks the fuzzer created that cannot be deleted: %r" % undeletable)
    if still:
        problems.append("after the cleanup, the switch does not hold the saved VIP set's pipeline: %s" % still)
    if end["vips"] != start["vips"]:
        problems.append("after the cleanup, not the VIP set of the start: %s" % [v["name"] for v in end["vips"]])
    if shares(end["switch"]) != start_switch:
        problems.append("after the cleanup, not the switch of the start")
    if api.lb.refusals():
        problems.append("the switch refused messages of the controller: %s" % api.lb.refusals()[:3])
    assert not problems, "\n\n".join(problems)


# ---------------------------------------------------------------- hostile bodies

def test_an_oversized_body_is_413_and_changes_nothing(api):
    before = api.state()
    big = json.dumps(dict(FUZZ, name="big", members=[{"address": "198.18.1.%d" % (i % 250 + 1), "port": i + 1}
                                                     for i in range(30000)])).encode()
    assert len(big) > 1 << 20
    assert_refused(api, before, api.call("POST", "/v1/vips", raw=big), 413, "body")
    assert_refused(api, before, api.call("PUT", "/v1/vips/web", raw=big), 413, "body")
    # Chunked, without a Content-Length: refused too (the WSGI stack reads such a body as empty).
    chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))
    reply = api.session.post(api.base + "/v1/vips", data=chunks, timeout=30,
                             headers={"Content-Type": "application/json"})
    assert reply.status_code in (400, 413)
    assert_refused(api, before, (reply.status_code, reply.headers.get("Content-Type", ""), reply.json()),
                   reply.status_code, "body")


def test_the_body_is_json_whatever_the_content_type_says(api):
    """README's `curl -d '{...}'` sends application/x-www-form-urlencoded: the body is read as JSON
    whatever the Content-Type says, so a body that is not JSON is refused as such."""
    before = api.state()
    for content_type, raw in [("application/x-www-form-urlencoded", b"name=ct&address=198.18.0.151&port=80"),
                              ("text/plain", b"name: ct"), ("application/xml", b"<vip name='ct'/>"),
                              ("application/json; charset=latin-1", "{\"name\": \"w\xe9b\"}".encode("latin-1"))]:
        assert_refused(api, before, api.call("POST", "/v1/vips", raw=raw, headers={"Content-Type": content_type}),
                       400, "body: ")
    body = dict(FUZZ, name="ct", address="198.18.0.151")
    status, content_type, doc = api.call("POST", "/v1/vips", body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, content_type.split(";")[0], doc["name"]) == (201, "application/json", "ct")
    assert api.call("DELETE", "/v1/vips/ct")[0] == 204
    assert api.settled() is None
    assert api.vips() == before["vips"]


@pytest.mark.parametrize("raw", [b"[" * 10000 + b"]" * 10000,
                                 b'{"a": ' * 10000 + b"1" + b"}" * 10000,
                                 json.dumps(dict(FUZZ, name="deep")).encode()[:-1] + b', "members": '
                                 + b"[" * 10000 + b"]" * 10000 + b"}"],
                         ids=["arrays", "objects", "in-a-vip"])
def test_deeply_nested_json_is_a_4xx_not_a_crash(api, raw):
    before = api.state()
    assert_refused(api, before, api.call("POST", "/v1/vips", raw=raw), 400, "body: ")
    assert_refused(api, before, api.call("PUT", "/v1/vips/web", raw=raw), 400, "body: ")


# ---------------------------------------------------------------- concurrent conflicting writes

def at_once(count, work):
    """Run work(i) for i in range(count) in as many threads, released together; -> their results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def one(i):
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_conflicting_writes_leave_one_winner_and_a_consistent_state(api):
    before = api.state()
    race = dict(FUZZ, name="race", address="198.18.0.170")
    # 20 clients create the same VIP at once: one 201, nineteen 409.
    results = at_once(20, lambda i: api.call("POST", "/v1/vips", race, own_connection=True))
    assert sorted(status for status, _, _ in results) == [201] + [409] * 19
    assert all(is_error_body(content_type, doc) and "already exists" in doc["error"]
               for status, content_type, doc in results if status == 409)
    assert [vip["name"] for vip in api.vips()].count("race") == 1
    assert api.settled() is None

    # 20 clients create 20 VIPs for one address:port at once: one wins.
    other = dict(race, address="198.18.0.171")
    results = at_once(20, lambda i: api.call("POST", "/v1/vips", dict(other, name="race%d" % i), own_connection=True))
    assert sorted(status for status, _, _ in results) == [201] + [409] * 19
    winner = [doc["name"] for status, _, doc in results if status == 201]
    assert all(is_error_body(content_type, doc) and "already served" in doc["error"]
               for status, content_type, doc in results if status == 409)
    assert [vip["name"] for vip in api.vips() if vip["name"].startswith("race")] == ["race"] + winner

    # 20 clients replace `race` at once, each with its own port: every PUT applies, one of them stays,
    # and the API, the state file and the switch all hold that one.
    results = at_once(20, lambda i: api.call("PUT", "/v1/vips/race", dict(race, port=8000 + i), own_connection=True))
    assert [status for status, _, _ in results] == [200] * 20
    port = api.call("GET", "/v1/vips/race")[2]["port"]
    assert port in range(8000, 8020)
    saved = {vip.name: vip for vip in store.load_state(str(api.lb.state_file)).vips}
    assert saved["race"].port == port
    assert api.settled() is None

    for name in ["race"] + winner:
        assert api.call("DELETE", "/v1/vips/" + name)[0] == 204
    assert api.settled() is None
    after = api.state()
    assert after["vips"] == before["vips"]
    assert shares(after["switch"]) == shares(before["switch"])


# ---------------------------------------------------------------- names (last: a wrongly accepted
# name may be one the API cannot delete again)

def test_unicode_names_in_the_url_are_a_json_4xx(api):
    before = api.state()
    for name in ["wéb", "名前"]:
        for method, body in [("GET", None), ("PUT", dict(FUZZ, name=name)), ("DELETE", None)]:
            status, content_type, doc = api.call(method, "/v1/vips/" + quote(name), body)
            assert status in (400, 404) and is_error_body(content_type, doc), (method, name, status, content_type, doc)
    assert api.state() == before


@pytest.mark.parametrize("name", ["wéb", "名前", " web", "-web", "x" * 64, "", "nl\n"])
def test_a_name_that_is_not_a_name_is_400_naming_the_field(api, name):
    before = api.state()
    assert_refused(api, before, api.call("POST", "/v1/vips", dict(FUZZ, name=name, address="198.18.0.180")),
                   400, "name: %r is not a name" % name)
