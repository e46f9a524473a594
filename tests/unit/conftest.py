"""Fixtures of the unit tests: the real core (lbctl.core.Balancer with a FileStore in a temporary
directory) behind the real REST application, with no switch, called the way a client would."""
import json
import threading

import pytest
from webob import Request

from lbctl import rest, store
from lbctl.core import Balancer, Options
from lbctl.service import Service


@pytest.fixture
def api_factory(tmp_path):
    """Makes the real core and its REST application with no switch, and returns a function that
    calls it like a client would: -> (status, the body parsed as JSON or None). `call.response`:
    the last response itself; `call.core`, `call.service`: the core and its service; `call.sent`:
    what the core asked to send."""
    made = []

    def make(options=Options(), token=None):
        state = str(tmp_path / ("state%d.msgpack" % len(made)))
        files = store.FileStore(state)
        made.append(files)
        sent = []
        service = Service(Balancer(options, files), sent.extend, threading.Lock(), token)
        wsgi = rest.application(service)

        def call(method, path, body=None, raw=None, headers=None):
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
            request = Request.blank(path, method=method, body=data, content_type="application/json",
                                    headers=headers or {})
            response = call.response = request.get_response(wsgi)
            doc = json.loads(response.body) if response.body else None
            return response.status_int, doc

        call.state_file, call.service, call.core, call.sent = state, service, service.core, sent
        call.wsgi = wsgi
        return call

    yield make
    for files in made:
        files.close()


@pytest.fixture
def api(api_factory):
    return api_factory()
