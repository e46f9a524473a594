"""Fixtures of the unit tests: the real app (its REST WSGI application, model) with no switch,
called the way a client would."""
import json

import pytest
from ryu import cfg
from webob import Request

from lbctl_app import rest
from lbctl_app.app import LoadBalancerApp


@pytest.fixture
def api_factory(tmp_path):
    """Makes the real app (and its REST WSGI application) with no switch, and returns a function
    that calls it like a client would: -> (status, the body parsed as JSON or None); the last
    response itself is `call.response`."""
    made = []

    def make():
        conf = cfg.CONF
        conf([], project="lbctl-test")
        state = str(tmp_path / ("state%d.msgpack" % len(made)))
        conf.set_override("state_file", state, group="lbctl")
        conf.set_override("vips_file", None, group="lbctl")
        app = LoadBalancerApp()
        wsgi = rest.application(app)
        made.append(app)

        def call(method, path, body=None, raw=None, headers=None):
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
            request = Request.blank(path, method=method, body=data, content_type="application/json",
                                    headers=headers or {})
            response = call.response = request.get_response(wsgi)
            doc = json.loads(response.body) if response.body else None
            return response.status_int, doc

        call.state_file = state
        call.app = app
        return call

    yield make
    for app in made:
        for thread in app.threads:
            thread.kill()
        app.state_lock.release()
    cfg.CONF.clear_override("state_file", group="lbctl")
    cfg.CONF.clear_override("vips_file", group="lbctl")


@pytest.fixture
def api(api_factory):
    return api_factory()
