"""The pipeline's contracts (flows/pipeline.py): every flow of every mode sits in a declared table
at one of that table's priority bands, goes only to the tables its table may go to (forward, for a
goto), and matches and writes only the fields its table declares, in registers declared once. And
no module but flows/pipeline.py names a register or a table by number."""
import os
import re

import pytest

from flows import pipeline as p
from flows.desired import desired_state
from flows.ir import Ct, Group, Learn, Move, Multipath, OutputReg, PopVlan, PushVlan, Resubmit, SetField
from tests.unit.sample import DNS, places, settings, vip_set, WEB

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
EVERY_MODE = (WEB, DNS,
              dict(WEB, name="arm", address="198.18.0.110", mode="one-arm",
                   snat_pool={"addresses": ["198.18.0.200", "198.18.0.201"]}),
              dict(WEB, name="direct", address="198.18.0.120", mode="dsr"),
              dict(DNS, name="udpdirect", address="198.18.0.121", port=5353, mode="dsr"),
              dict(WEB, name="sticky", port=443, algorithm="source_ip"),
              dict(WEB, name="nobody", address="198.18.0.130", members=[{"address": "198.18.0.99"}]))
SETTINGS = settings(gateways=("198.18.0.1/24",))


def every_flow():
    config = vip_set(*EVERY_MODE)
    state = desired_state(config.vips, places(config), SETTINGS)
    return list(state.flows.values()), state.groups


def targets(actions, groups):
    """The tables a list of actions may continue in (through groups' buckets too)."""
    for action in actions:
        if isinstance(action, Resubmit):
            yield action.table
        elif isinstance(action, Ct) and action.table is not None:
            yield action.table
        elif isinstance(action, Group):
            for bucket in groups[action.group_id].buckets:
                yield from targets(bucket.actions, groups)


def written(actions):
    for action in actions:
        if isinstance(action, SetField):
            yield action.field
        elif isinstance(action, Move):
            yield action.dst
        elif isinstance(action, Multipath):
            yield action.dst
        elif isinstance(action, (PushVlan, PopVlan)):
            yield "vlan_vid"
        elif isinstance(action, Ct):
            yield from written(action.exec_)


FLOWS, GROUPS = every_flow()


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: "table%d-%d" % (f.table, f.priority))
def test_every_flow_keeps_its_tables_contract(flow):
    table = p.TABLE_BY_ID[flow.table]
    assert flow.priority in {band.priority for band in table.bands}, "priority of no band of %s" % table.name
    allowed = {p.TABLE_BY_NAME[name].id for name in table.goes_to}
    if flow.goto is not None:
        assert flow.goto in allowed and flow.goto > flow.table, "goto_table %d from %s" % (flow.goto, table.name)
    for target in targets(flow.actions, GROUPS):
        assert target in allowed | {flow.table}, "table %d from %s" % (target, table.name)
    assert set(dict(flow.match)) <= table.matches | {"eth_type", "ip_proto"}, table.name
    assert set(written(flow.actions)) <= table.sets, table.name
    registers = {r.field for r in p.REGISTERS}
    used = set(dict(flow.match)) | set(written(flow.actions)) | {
        a.field for a in flow.actions if isinstance(a, OutputReg)} | {
        a.src for a in flow.actions if isinstance(a, Move)} | {
        a.register for a in flow.actions if isinstance(a, Learn)}
    assert {f for f in used if re.fullmatch(r"reg\d+", f)} <= registers


def test_bands_of_a_table_are_distinct_and_every_table_is_used():
    for table in p.TABLES:
        priorities = [band.priority for band in table.bands]
        assert len(priorities) == len(set(priorities)), "two bands of %s share a priority" % table.name
    used = {f.table for f in FLOWS}
    assert used >= {t.id for t in p.TABLES} - {p.DSR_CONN.id}, "dsr_conn holds learned flows only"


def test_registers_are_declared_once_each():
    fields = [r.field for r in p.REGISTERS]
    assert len(fields) == len(set(fields))


SOURCES = [os.path.join(root, name) for top in ("flows", "lbctl", "lbctl_app", "lbctl_cli")
           for root, _, names in os.walk(os.path.join(REPO, top)) for name in names if name.endswith(".py")]


@pytest.mark.parametrize("path", [s for s in SOURCES if not s.endswith(os.path.join("flows", "pipeline.py"))],
                         ids=lambda s: os.path.relpath(s, REPO))
def test_no_bare_register_or_table_number_outside_the_pipeline(path):
    text = open(path).read()
    assert not re.findall(r"[\"']reg\d+[\"']|\breg\d+=", text), "a register named outside flows/pipeline.py"
    assert not re.findall(r"(?:goto_table|table)\s*[=:(]\s*\d+|\bTable\(\d+", text), \
        "a table number outside flows/pipeline.py"
