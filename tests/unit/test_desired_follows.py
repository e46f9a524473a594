"""A desired state computed from the one before it (only what changed looked at again) is the state
computed afresh, and reconcile.diff, which then compares only what may differ, asks for the same
changes as a full comparison. Checked over seeded random histories of VIP changes, members that
move, arrive or vanish, members held down, and shared addresses."""
import random
from dataclasses import replace

import pytest

from tests.unit.sample import settings
from flows.desired import SwitchState, desired_state
from flows.reconcile import diff
from lbctl.hosts import Place
from lbctl.model import LbError, Config, parse_vip

HOSTS = ["198.18.0.%d" % i for i in range(11, 19)]
ADDRESSES = ["198.18.1.%d" % i for i in range(1, 5)]   # few, so that VIPs share them


def random_vip(rng, name):
    mode = rng.choice(["routed", "routed", "dsr", "one-arm"])
    port = rng.choice([80, 81, 53])
    body = {"name": name, "address": rng.choice(ADDRESSES), "port": port, "protocol": rng.choice(["tcp", "tcp", "udp"]),
            "mode": mode, "algorithm": rng.choice(["5-tuple", "5-tuple", "source_ip"]),
            "members": [{"address": a, "port": port if mode == "dsr" else rng.choice([80, 8080]),
                         "weight": rng.choice([0, 1, 1, 3])} for a in rng.sample(HOSTS, rng.randint(0, 5))]}
    if mode == "one-arm":
        body["snat_pool"] = {"addresses": [rng.choice(["198.18.2.1", "198.18.2.2"])]}
    return parse_vip(body)


def afresh(vips, places, settings, down, before):
    """The same state computed from nothing but the slot tables and dsr's moved slots in force
    (which it keeps)."""
    kept = SwitchState(slots=dict(before.slots), moves=dict(before.moves)) if before else None
    return desired_state(vips, places, settings, kept, down)


def changes(installed, desired):
    return [(c.op, c.item) for c in diff(installed, desired)]


@pytest.mark.parametrize("seed", range(12))
def test_a_state_computed_from_the_one_before_is_the_state_computed_afresh(seed):
    rng = random.Random(seed)
    switch_settings = settings(gateways=rng.choice([(), ("198.18.1.1/24",)]),
                               monitor_address=rng.choice([None, "198.18.0.2"]))
    vips, down, before = Config().with_default(switch_settings.networks[0]), {}, None
    places = {h: Place("02:00:00:00:00:%02x" % i, i + 2) for i, h in enumerate(HOSTS) if rng.random() < 0.6}
    for step in range(40):
        r = rng.random()
        try:
            if r < 0.4:
                vips, _ = vips.create(random_vip(rng, "v%d" % step))
            elif r < 0.55 and vips.vips:
                name = rng.choice(vips.vips).name
                vips, _ = vips.replace(name, random_vip(rng, name))
            elif r < 0.65 and vips.vips:
                vips, _ = vips.delete(rng.choice(vips.vips).name)
            elif r < 0.75:
                places = {**places, rng.choice(HOSTS): Place("02:00:00:00:01:%02x" % step, rng.randint(2, 20))}
            elif r < 0.8 and places:
                places = {h: p for h, p in places.items() if h != rng.choice(list(places))}
            elif r < 0.9 and vips.vips:
                vip = rng.choice(vips.vips)
                down = {**down, vip.id: frozenset(m.id for m in vip.members if rng.random() < 0.5)}
            elif r < 0.93:
                switch_settings = replace(switch_settings, arp_punt_pps=rng.choice([100, 200]))
        except LbError:
            continue
        ids = {vip.id for vip in vips.vips}
        now = {vip_id: held for vip_id, held in down.items() if vip_id in ids}
        located = {vips.hosts[("default", a)]: place for a, place in places.items() if ("default", a) in vips.hosts}
        followed = desired_state(vips.vips, located, switch_settings, before, now)
        fresh = afresh(vips.vips, located, switch_settings, now, before)
        assert (followed.flows, followed.groups, followed.meters, followed.slots) == \
            (fresh.flows, fresh.groups, fresh.meters, fresh.slots), "step %d" % step
        if before is not None:
            assert changes(before, followed) == changes(before, fresh), "step %d" % step
        before = followed
