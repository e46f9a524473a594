"""Two tenants with one address plan, walked through the pipeline on the fake switch (no Open
vSwitch): each tenant's frames reach its own members, tagged as its network is on their port;
identical 5-tuples of two tenants are two connections in two zones; a tag from an access port
reaches nothing; ARP and replies leave with the tag they came with."""
from flows import pipeline as p
from flows.desired import Settings, desired_state
from flows.fakeswitch import FakeSwitch, arp_request, tagged, tcp
from flows.protocols import TCP_ACK, TCP_SYN
from lbctl.hosts import Place
from lbctl.model import Config, parse_vip
from lbctl.networks import parse_network

TRUNK, A_ACCESS, B_ACCESS = 50, 21, 22
NETWORKS = [{"name": "tenant-a", "vlan": 101, "gateways": ["10.0.0.1/24"], "access_ports": [A_ACCESS]},
            {"name": "tenant-b", "vlan": 102, "gateways": ["10.0.0.1/24"], "access_ports": [B_ACCESS]}]
PLAN = {"address": "10.0.0.100", "port": 80, "mode": "one-arm", "snat_pool": {"addresses": ["10.0.0.200"]},
        "members": [{"address": "10.0.0.11"}, {"address": "10.0.0.13"}]}
CLIENT = "10.0.0.10:40000"
MAC = {"tenant-a": p.own_mac(0, 1, 1), "tenant-b": p.own_mac(0, 2, 1)}


def host_mac(network, address):
    return "02:%02x:0a:00:00:%02x" % ({"tenant-a": 0x65, "tenant-b": 0x66}[network], int(address.split(".")[-1]))


class Tenants:
    """The fake switch serving tenant-a's and tenant-b's identical VIPs; .11 behind the trunk, .13
    on each tenant's access port."""

    def __init__(self):
        config = Config()
        for network in NETWORKS:
            config, _ = config.create_network(parse_network(network))
        for network in ("tenant-a", "tenant-b"):
            config, _ = config.create(parse_vip(dict(PLAN, name=network + "-web", network=network)))
        access = {"tenant-a": A_ACCESS, "tenant-b": B_ACCESS}
        places = {host: Place(host_mac(network, address), TRUNK if address == "10.0.0.11" else access[network])
                  for (network, address), host in config.hosts.items()}
        self.config = config
        self.state = desired_state(config.vips, places, Settings(networks=config.networks))
        self.switch = FakeSwitch(self.state)

    def force(self, network, address):
        """Every new connection of the tenant's VIP goes to its member at `address`."""
        vip = self.config.get(network + "-web")
        member = next(m.id for m in vip.members if m.address == address)
        slot = self.state.slots[vip.id].index(member)
        self.switch.choose = lambda chooser, packet: slot

    def vlan(self, network):
        return self.config.network(network).vlan


def syn(network, vlan):
    packet = tcp(CLIENT, "10.0.0.100:80", host_mac(network, "10.0.0.10"), MAC[network])
    return tagged(packet, vlan) if vlan else packet


def test_each_tenants_syn_reaches_its_own_member_tagged_with_its_own_vlan():
    lb = Tenants()
    for network in ("tenant-a", "tenant-b"):
        lb.force(network, "10.0.0.11")
        out = lb.switch.send(syn(network, lb.vlan(network)), TRUNK).single()
        assert out.port == TRUNK
        assert out.packet["vlan_vid"] == p.VLAN_PRESENT | lb.vlan(network)
        assert out.packet["eth_dst"] == host_mac(network, "10.0.0.11")
        assert (out.packet["ipv4_src"], out.packet["ipv4_dst"]) == ("10.0.0.200", "10.0.0.11"), "one-arm: SNAT, DNAT"


def test_one_5_tuple_from_two_tenants_is_two_connections_in_their_own_zones():
    lb = Tenants()
    for network in ("tenant-a", "tenant-b"):
        lb.force(network, "10.0.0.11")
        lb.switch.send(syn(network, lb.vlan(network)), TRUNK).single()
    zones = {network: (p.lb_zone(lb.config.network(network).id), p.snat_zone(lb.config.network(network).id))
             for network in ("tenant-a", "tenant-b")}
    assert zones == {"tenant-a": (66, 67), "tenant-b": (68, 69)}
    for lb_zone, snat_zone in zones.values():
        assert len(lb.switch.conntrack.connections(lb_zone)) == 1 and len(lb.switch.conntrack.connections(snat_zone)) == 1
    assert lb.switch.conntrack.connections(p.LB_ZONE) == [], "nothing in the default network's zone"


def test_a_reply_goes_back_to_its_tenants_client_with_its_tenants_tag():
    lb = Tenants()
    for network in ("tenant-a", "tenant-b"):
        lb.force(network, "10.0.0.11")
        request = lb.switch.send(syn(network, lb.vlan(network)), TRUNK).single().packet
        reply = tcp("10.0.0.11:80", "10.0.0.200:%d" % request["tcp_src"], host_mac(network, "10.0.0.11"), MAC[network],
                    flags=TCP_SYN | TCP_ACK)
        out = lb.switch.send(tagged(reply, lb.vlan(network)), TRUNK).single()
        assert out.port == TRUNK and out.packet["vlan_vid"] == p.VLAN_PRESENT | lb.vlan(network)
        assert (out.packet["ipv4_src"], out.packet["ipv4_dst"], out.packet["eth_dst"]) == (
            "10.0.0.100", "10.0.0.10", host_mac(network, "10.0.0.10"))


def test_a_member_on_an_access_port_gets_its_requests_untagged():
    lb = Tenants()
    lb.force("tenant-b", "10.0.0.13")
    out = lb.switch.send(syn("tenant-b", lb.vlan("tenant-b")), TRUNK).single()
    assert (out.port, out.packet["vlan_vid"]) == (B_ACCESS, 0)


def test_a_frame_tagged_on_an_access_port_reaches_nothing():
    lb = Tenants()
    lb.force("tenant-a", "10.0.0.11")
    result = lb.switch.send(syn("tenant-a", lb.vlan("tenant-a")), B_ACCESS)
    assert result.egress == [], result
    assert [(f.table, f.priority) for f in result.matched] == [(p.INGRESS.id, p.INGRESS.TAGGED_ACCESS)]


def test_an_untagged_frame_from_a_tenants_access_port_is_that_tenants():
    lb = Tenants()
    lb.force("tenant-b", "10.0.0.11")
    out = lb.switch.send(syn("tenant-b", None), B_ACCESS).single()
    assert out.packet["eth_dst"] == host_mac("tenant-b", "10.0.0.11") and out.packet["vlan_vid"] == p.VLAN_PRESENT | 102


def test_arp_for_the_gateway_is_answered_with_the_tenants_mac_and_tag():
    lb = Tenants()
    for network in ("tenant-a", "tenant-b"):
        ask = tagged(arp_request(host_mac(network, "10.0.0.10"), "10.0.0.10", "10.0.0.1"), lb.vlan(network))
        out = lb.switch.send(ask, TRUNK).single()
        assert out.port == TRUNK, "back where it came from"
        assert (out.packet["arp_op"], out.packet["arp_sha"], out.packet["vlan_vid"]) == (
            2, MAC[network], p.VLAN_PRESENT | lb.vlan(network))


def test_an_ack_of_no_connection_of_this_tenant_is_refused_not_sent_to_the_other():
    lb = Tenants()
    lb.force("tenant-a", "10.0.0.11")
    lb.switch.send(syn("tenant-a", lb.vlan("tenant-a")), TRUNK).single()
    ack = dict(syn("tenant-b", lb.vlan("tenant-b")), tcp_flags=TCP_ACK)
    result = lb.switch.send(ack, TRUNK)
    assert [e.port for e in result.egress] == ["CONTROLLER"], "refused (a reset), not tenant A's connection"
