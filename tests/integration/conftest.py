"""Fixtures for the integration tests: a private Open vSwitch with hosts in network namespaces.

`lab`: one per test module, started, with the standard topology (lab/topology.py): client
198.18.0.10 on OpenFlow port 1, members m1..m3 (.11-.13, ports 2-4) serving HTTP on 80 and 8080.
No flows and no controller: a test or a controller fixture brings those. Always stopped at the
end of the module, whatever happened.
`make_lab`: a factory of unstarted labs (unique prefix, workdir, ports), all stopped at the end
of the test (`make_lab_module`: of the module). `rest_port`: a free port for the controller's REST API. `lb`: the controller on `lab`.

Each lab gets a unique prefix ("lt" + 4 hex digits), so runs can share the machine.
"""

import secrets
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # the lab package lives at the repo root
    sys.path.insert(0, str(REPO_ROOT))

from lab import Lab, free_tcp_port, topology, unavailable_reason  # noqa: E402
from lab.lbctl import REPO_VIPS, Controller  # noqa: E402


def _new_lab(workdir):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    prefix = "lt" + secrets.token_hex(2)
    return Lab(workdir, prefix, bridge=f"{prefix}br", of_port=free_tcp_port())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = _new_lab(tmp_path_factory.mktemp("lab"))
    try:
        lab.start()
        topology.build(lab)
        yield lab
    finally:
        lab.stop()


def _lab_factory(tmp_path_factory):
    made = []

    def make():
        lab = _new_lab(tmp_path_factory.mktemp("lab"))
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.stop()


@pytest.fixture
def make_lab(tmp_path_factory):
    yield from _lab_factory(tmp_path_factory)


@pytest.fixture(scope="module")
def make_lab_module(tmp_path_factory):
    """make_lab for a module that builds its own topology once."""
    yield from _lab_factory(tmp_path_factory)


@pytest.fixture(scope="module")
def rest_port():
    return free_tcp_port()


@pytest.fixture(scope="module")
def lb(lab):
    """The real `ryu-manager lbctl_app` on the module's lab, with config/vips.yaml (VIP `web`)
    resolved; at the end, the switch must have refused none of its messages."""
    controller = Controller(lab, free_tcp_port(), REPO_VIPS).start()
    controller.wait_resolved("web")
    yield controller
    controller.stop()
    assert controller.refusals() == [], "the switch refused none of the controller's messages"
