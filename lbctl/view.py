"""What the REST API and /metrics show of the balancer, read from the core. Reading changes
nothing: statuses are kept up to date by the events that change them, not by a GET."""
import datetime

from flows import pipeline
from flows.desired import vip_mac
from flows.text import state_text
from lbctl.health import UP
from lbctl.model import DEFAULT_NETWORK, NotFound


def utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="milliseconds")


class View:
    def __init__(self, core):
        self.core = core

    @property
    def config(self):
        return self.core.config

    def vips(self):
        return [self.describe(vip) for vip in self.core.config.vips]

    def vip(self, name):
        return self.describe(self.core.config.get(name))

    def describe(self, vip):
        """A VIP as the API shows it: what was configured, plus how to find it on the switch."""
        core = self.core
        doc = vip.to_dict()
        doc.update(id=vip.id, revision=vip.revision, group_id=pipeline.group_id(vip.id),
                   mac=vip_mac(vip, core.settings), cookie="%#x/%#x" % pipeline.vip_cookie_match(vip.id))
        up = 0
        for shown, member in zip(doc["members"], vip.members):
            key = member.key
            places = [dict(dpid="%016x" % dpid, mac=place.mac, port=place.port)
                      for dpid in sorted(core.switches)
                      for place in [core.hosts.where(dpid, key)] if place is not None]
            status, since, reason = core.monitoring.statuses.get(vip.id, member.id)
            up += status == UP
            shown.update(id=member.id, host=member.host, cookie="%#x" % pipeline.cookie(vip.id, member.id), locations=places,
                         operating_status=status, status_since=utc(since), status_reason=reason)
        doc["members_up"] = up
        return doc

    def hosts(self):
        return [self._host(h) for h in self.core.hosts.all()]

    def host(self, address, network=DEFAULT_NETWORK):
        self.core.config.network(network)
        found = self.core.hosts.get((network, address))
        if not found:
            raise NotFound("host %s is not known on network %r" % (address, network))
        return [self._host(h) for h in found]

    def groups(self):
        """Per redundancy group: the switch it is active on, the standbys, since when (without a
        cluster: every switch is active, and none is named)."""
        core = self.core
        groups = core.groups()
        if not core.cluster.config.enabled:
            return [{"group": group, "active": None, "since": None, "standbys": []} for group in sorted(groups)]
        return core.cluster.describe(groups)

    def cluster(self):
        core = self.core
        return {"balancers": [dict(name=name, dpid="%016x" % dpid, connected=dpid in core.switches,
                                   healthy=dpid in core.cluster.healthy)
                              for name, dpid in core.cluster.config.balancers.items()],
                "preempt": core.cluster.config.preempt, "hold_down": core.cluster.config.hold_down,
                "takeovers": core.cluster.takeovers, "groups": self.groups()}

    def networks(self):
        return [self.describe_network(network) for network in self.core.config.networks]

    def network(self, name):
        return self.describe_network(self.core.config.network(name))

    def describe_network(self, network):
        """A network as the API shows it: what was configured, plus its id, revision, cookie,
        conntrack zones and the balancer's MAC there for each redundancy group it uses."""
        core = self.core
        groups = sorted({g for (name, _), g in core.owned().items() if name == network.name})
        doc = network.to_dict()
        doc.update(id=network.id, revision=network.revision, cookie="%#x" % pipeline.network_cookie(network.id),
                   zones=[pipeline.lb_zone(network.id), pipeline.snat_zone(network.id)],
                   macs={str(g): pipeline.own_mac(core.options.cluster_id, network.id, g) for g in groups},
                   vips=sorted(v.name for v in core.config.vips if v.network == network.name),
                   implicit=network.name == DEFAULT_NETWORK)
        return doc

    def _host(self, host):
        """A host as the API shows it, with its id and the cookie of its flows (`locate`, its ARP)."""
        host_id = self.core.host_id(host.key)
        return dict(host.to_dict(), id=host_id, cookie="%#x" % pipeline.host_cookie(host_id))

    def stats(self):
        core = self.core
        traffic = core.polling.traffic
        return dict(core.stats.to_dict(), switches=len(core.switches),
                    pending_barriers=sum(len(s.pending) for s in core.switches.values()),
                    vips=traffic.report(core.config.vips), traffic_polled_at=traffic.polled_at,
                    traffic_polls=traffic.polls)

    def flows(self):
        """What the controller has installed on each switch, as `ovs-ofctl dump-flows` and
        `dump-groups` print it, with each flow's counters as of the last reading."""
        switches = []
        for dpid, switch in sorted(self.core.switches.items()):
            counters = {key: value for of_vip in switch.counters.values() for key, value in of_vip.items()}
            lines = state_text(switch.installed, counters).splitlines() if switch.installed else []
            groups = [line for line in lines if line.startswith("group_id=")]
            flows = [line for line in lines if not line.startswith(("group_id=", "meter="))]
            switches.append({"dpid": "%016x" % dpid, "flows": flows, "groups": groups})
        return {"switches": switches}

    def status(self, vip, member):
        """(status, since, reason) of a member."""
        return self.core.monitoring.statuses.get(vip.id, member.id)

    def traffic(self):
        return self.core.polling.traffic.report(self.core.config.vips)
