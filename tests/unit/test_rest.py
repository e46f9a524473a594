"""The REST API through the real WSGI application and the real app object, with no switch:
status codes, error messages that name the field, and that a refused request changes nothing."""
import os

import pytest

from lbctl import store
from tests.unit.sample import WEB


def test_create_get_replace_delete(api):
    status, doc = api("POST", "/v1/vips", WEB)
    assert status == 201
    assert doc["id"] == 1 and doc["cookie"] == "0x100000000/0xffffffff00000000"
    assert (doc["algorithm"], doc["redundancy_group"]) == ("5-tuple", 1)
    member = dict(doc["members"][2])
    assert member.pop("status_since").endswith("+00:00")
    assert member == {"address": "198.18.0.13", "port": 80, "weight": 3, "id": 3, "host": 3, "cookie": "0x100000003",
                      "locations": [], "operating_status": "unresolved", "status_reason": "no answer to ARP yet"}
    assert doc["members_up"] == 0 and doc["health_monitor"]["type"] == "none"
    assert api("GET", "/v1/vips/web")[1] == doc
    status, doc = api("PUT", "/v1/vips/web", dict(WEB, port=8080))
    assert (status, doc["port"]) == (200, 8080)
    assert [v["name"] for v in api("GET", "/v1/vips")[1]] == ["web"]
    assert api("DELETE", "/v1/vips/web") == (204, None)
    assert api("GET", "/v1/vips")[1] == []


@pytest.mark.parametrize("method, path, body, status, message", [
    ("POST", "/v1/vips", dict(WEB, address="1.2.3"), 400, "address: '1.2.3' is not an IPv4 address"),
    ("POST", "/v1/vips", dict(WEB, port=99999), 400, "port: 99999 is not a port number"),
    ("POST", "/v1/vips", dict(WEB, mode="bridge"), 400, "mode: 'bridge' is not one of routed, dsr, one-arm"),
    ("POST", "/v1/vips", dict(WEB, members=[{"address": "198.18.0.11"}, {"address": "198.18.0.11"}]),
     400, "members[1]: '198.18.0.11:80' duplicates members[0]"),
    ("POST", "/v1/vips", [WEB], 400, "body: "),
    ("POST", "/v1/vips", dict(WEB, name="web2"), 409, "198.18.0.100:80/tcp is already served by vip 'web'"),
    ("POST", "/v1/vips", WEB, 409, "'web' already exists"),
    ("GET", "/v1/vips/nope", None, 404, "'nope' does not exist"),
    ("PUT", "/v1/vips/nope", dict(WEB, name="nope"), 404, "'nope' does not exist"),
    ("DELETE", "/v1/vips/nope", None, 404, "'nope' does not exist"),
    ("PUT", "/v1/vips/web", dict(WEB, name="other"), 400, "name: 'other' differs from the name in the URL"),
])
def test_refused_requests_change_nothing(api, method, path, body, status, message):
    api("POST", "/v1/vips", WEB)
    before = open(api.state_file, "rb").read()
    got, doc = api(method, path, body)
    assert got == status
    assert message in doc["error"]
    assert open(api.state_file, "rb").read() == before
    assert [v["name"] for v in api("GET", "/v1/vips")[1]] == ["web"]


def test_malformed_json_is_refused(api):
    status, doc = api("POST", "/v1/vips", raw=b'{"name": "web",')
    assert status == 400 and doc["error"].startswith("body: ") and "not valid JSON" in doc["error"]
    assert not os.path.exists(api.state_file)


def test_oversized_body_is_refused(api):
    status, doc = api("POST", "/v1/vips", raw=b" " * (2 << 20))
    assert status == 413 and "body" in doc["error"]


def test_unwritable_state_file_is_a_500_and_changes_nothing(api, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    api.core.store.state_file = str(blocker / "state.msgpack")   # its directory is a file: cannot save
    status, doc = api("POST", "/v1/vips", WEB)
    assert status == 500 and doc["error"].startswith("state_file: cannot save")
    assert api("GET", "/v1/vips")[1] == []


def test_hosts_can_be_listed_shown_and_forgotten(api):
    api("POST", "/v1/vips", WEB)
    api.core.hosts.learn(1, ("default", "198.18.0.11"), "0a:00:00:00:00:11", 2, now=100.0)
    status, hosts = api("GET", "/v1/hosts")
    assert status == 200 and hosts == [{"ip": "198.18.0.11", "network": "default", "dpid": "0000000000000001", "mac": "0a:00:00:00:00:11",
                                        "port": 2, "first_seen": 100.0, "last_seen": 100.0, "moves": 0,
                                        "state": "learned", "id": 1, "cookie": "0xffffffff00000001"}]
    assert api("GET", "/v1/hosts/198.18.0.11") == (200, hosts)
    assert api("DELETE", "/v1/hosts/198.18.0.11") == (204, None)
    status, doc = api("GET", "/v1/hosts/198.18.0.11")
    assert status == 404 and doc["error"] == "host 198.18.0.11 is not known on network 'default'"
    assert api("DELETE", "/v1/hosts/198.18.0.11")[0] == 404


def test_stats_show_counters_and_move_latency(api):
    api.core.stats.move_ms.extend([1.0, 2.0, 30.0])
    status, stats = api("GET", "/v1/stats")
    assert status == 200 and stats["packet_in"] == 0 and stats["switches"] == 0
    assert stats["move_to_barrier_ms"] == {"count": 3, "p50": 2.0, "p99": 30.0, "max": 30.0, "recent": [1.0, 2.0, 30.0]}


def test_vips_on_one_address_must_share_a_redundancy_group(api):
    api("POST", "/v1/vips", WEB)
    status, doc = api("POST", "/v1/vips", dict(WEB, name="web2", port=443, redundancy_group=2))
    assert status == 409 and doc["error"].startswith("redundancy_group: 2 differs from group 1 of vip 'web'")


TOKEN = "s3cret-token-of-some-length"


@pytest.fixture
def guarded(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    return token_file


def test_with_a_token_changes_need_it_and_reads_do_not(guarded, api_factory):
    api = api_factory(token=store.read_token(str(guarded)))
    status, doc = api("POST", "/v1/vips", WEB)
    assert status == 401 and doc["error"].startswith("authorization:")
    assert api("POST", "/v1/vips", WEB, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert api("POST", "/v1/vips", WEB, headers={"Authorization": "Bearer " + TOKEN})[0] == 201
    assert api("GET", "/v1/vips")[0] == 200
    assert api("DELETE", "/v1/vips/web")[0] == 401


@pytest.mark.parametrize("authorization",
                         ["Bearer " + TOKEN, "bearer " + TOKEN, "BEARER " + TOKEN, "Bearer  %s " % TOKEN])
def test_the_auth_scheme_is_case_insensitive(guarded, api_factory, authorization):
    api = api_factory(token=store.read_token(str(guarded)))
    assert api("POST", "/v1/vips", WEB, headers={"Authorization": authorization})[0] == 201


@pytest.mark.parametrize("authorization", [
    "Bearer " + TOKEN + "\u00e9",
    # UTF-8 bytes in a header reach the application as latin-1 characters (PEP 3333)
    "Bearer " + "s3cret-t\u00f6ken-of-some-length".encode().decode("latin-1"),
    "Bearer \u00ff\u00fe",
    "Bearer", "Bearer ", "Bearer" + TOKEN, "Basic " + TOKEN, TOKEN, "Bearer %s extra" % TOKEN, "",
])
def test_a_malformed_or_non_ascii_authorization_is_a_401(guarded, api_factory, authorization):
    api = api_factory(token=store.read_token(str(guarded)))
    status, doc = api("POST", "/v1/vips", WEB, headers={"Authorization": authorization})
    assert status == 401 and doc["error"].startswith("authorization:")
    assert api.response.headers["WWW-Authenticate"] == "Bearer"
    assert api("GET", "/v1/vips")[1] == []


def test_head_answers_like_get_without_the_body(guarded, api_factory):
    api = api_factory(token=store.read_token(str(guarded)))
    api("POST", "/v1/vips", WEB, headers={"Authorization": "Bearer " + TOKEN})
    for path in ["/v1/vips", "/v1/vips/web", "/v1/hosts", "/v1/stats", "/v1/flows", "/v1/openapi.json"]:
        api("GET", path)
        got = api.response
        assert api("HEAD", path) == (200, None), path
        assert api.response.body == b""
        assert api.response.headers["Content-Type"] == got.headers["Content-Type"]
        assert int(api.response.headers["Content-Length"]) == len(got.body) > 0, path
    status, _ = api("HEAD", "/v1/vips/nope")
    assert status == 404 and api.response.body == b""


@pytest.mark.parametrize("method, path, allowed", [
    ("PATCH", "/v1/vips/web", "DELETE, GET, HEAD, PUT"),
    ("PATCH", "/v1/vips/w%C3%A9b", "DELETE, GET, HEAD, PUT"),   # the method is checked before the name
    ("DELETE", "/v1/vips", "GET, HEAD, POST"),
    ("POST", "/v1/hosts/198.18.0.11", "DELETE, GET, HEAD"),
    ("PUT", "/metrics", "GET, HEAD"),
    ("OPTIONS", "/v1/openapi.json", "GET, HEAD"),
])
def test_a_method_a_path_does_not_take_is_a_405_with_allow(api, method, path, allowed):
    status, doc = api(method, path)
    assert status == 405 and doc["error"].endswith("(allowed: %s)" % allowed)
    assert api.response.headers["Allow"] == allowed


def test_a_token_file_others_can_read_is_refused(guarded):
    guarded.chmod(0o644)
    with pytest.raises(store.StoreError, match="token_file: .* has mode 644: others may read it; chmod 600 it"):
        store.read_token(str(guarded))


@pytest.mark.parametrize("method, path, status, words", [
    ("PATCH", "/v1/vips/web", 405, "method: 'PATCH' is not allowed on /v1/vips/web (allowed: DELETE, GET, HEAD, PUT)"),
    ("GET", "/v1/vips/w%C3%A9b", 404, "names no VIP or host"),
    ("GET", "/v1/vips/web%0A", 404, "names no VIP or host"),
    ("GET", "/v1/vips/%FF", 404, "path: '/v1/vips/\ufffd' names no VIP or host"),
    ("DELETE", "/v1/hosts/%C3", 404, "names no VIP or host"),
    ("GET", "/v1/%FF", 404, "is not part of this API"),
    ("GET", "/v1/hosts/eb", 404, "names no VIP or host"),
    ("GET", "/v2/anything", 404, "path: '/v2/anything' is not part of this API"),
])
def test_requests_no_route_takes_get_json_errors_too(api, method, path, status, words):
    api("POST", "/v1/vips", WEB)
    got, doc = api(method, path)
    assert got == status and words in doc["error"]


def test_names_with_a_newline_and_deep_json_are_refused(api):
    status, doc = api("POST", "/v1/vips", dict(WEB, name="abc\n"))
    assert status == 400 and doc["error"].startswith("name: 'abc\\n' is not a name")
    status, doc = api("POST", "/v1/vips", raw=b"[" * 10000 + b"]" * 10000)
    assert status == 400 and "nested too deeply" in doc["error"]


def test_if_match_refuses_a_change_based_on_an_old_revision(api):
    first = api("POST", "/v1/vips", WEB)[1]["revision"]
    second = api("PUT", "/v1/vips/web", dict(WEB, port=8080), headers={"If-Match": '"%s"' % first})[1]["revision"]
    assert second != first
    status, doc = api("PUT", "/v1/vips/web", dict(WEB, port=8081), headers={"If-Match": '"%s"' % first})
    assert (status, doc["error"]) == (412, "if-match: %r is not the revision of vip 'web' any more (now %r)"
                                      % (first, second))
    assert api("GET", "/v1/vips/web")[1]["port"] == 8080
    assert api("DELETE", "/v1/vips/web", headers={"If-Match": first})[0] == 412
    assert api("DELETE", "/v1/vips/web", headers={"If-Match": "*"})[0] == 204
