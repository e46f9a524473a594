"""The balancer as plain classes: events in (a switch connected and what it holds, a packet-in,
barrier, counter and error replies, tick(now), a change of configuration), the messages to send
out, per switch. No Ryu, no event loop, no sockets: the Ryu shell (lbctl_app) parses, sends and
schedules; unit tests drive it through a fake switch.

It is split by concern, as Faucet splits its Valve into managers:
  changes.Changes         configuration changes (through the Store), adoption and repair of switches
  neighbours.Neighbours   ARP: learning members, mobility, defence of our addresses, probes, GARP
  monitoring.Monitoring   health monitors and members' operating status
  polling.Polling         the switches' counters, VIP by VIP
  switches.Placement      the one place that says which switches are written to and what they serve
"""
from lbctl.core.balancer import Balancer, Clock, Options, StartError

__all__ = ["Balancer", "Clock", "Options", "StartError"]
