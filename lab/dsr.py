"""The member side of direct server return (DSR): what a member host must hold so that a `dsr`
VIP can send it requests whose only change is the destination MAC.

In DSR the balancer rewrites the Ethernet destination of a request to the member's MAC and
leaves the IP header alone: the packet still says `dst=VIP`. The member answers the client
straight, not through the balancer, with the VIP as its source address. So the member must:

- accept packets for the VIP: the VIP is one of its own addresses, as a /32 on `lo` (on `lo`,
  not `eth0`, so that it is not an address of the shared segment);
- never answer ARP for the VIP: every member and the balancer share the segment, and a member
  that answered would pull the VIP's traffic to itself past the balancer (and the balancer would
  see someone claiming its address). `arp_ignore=1`: answer an ARP request only for an address
  of the interface it came in on, so the VIP on `lo` is never answered;
- never name the VIP as the sender of its own ARP: answering from the VIP, the member resolves
  the client (or its router) with an ARP request, and by default Linux takes the packet's source,
  the VIP, as the request's sender address. Neighbours would learn the member's MAC for the VIP
  from that, and lbctl's claim guard would count it as a claim. `arp_announce=2`: always use
  the best address of the outgoing interface (eth0's own) instead.

Both settings are per network namespace (every host has its own sysctls); the kernel uses the
larger of `all` and the interface's value, and both are set. The values found before are kept
in `<workdir>/<host>-dsr.json` and put back when the last VIP of the host is unconfigured.
"""
import json

SYSCTLS = {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.eth0.arp_ignore": "1",
           "net.ipv4.conf.all.arp_announce": "2", "net.ipv4.conf.eth0.arp_announce": "2"}


def _saved_path(lab, host):
    return lab.workdir / f"{lab.host(host).name}-dsr.json"


def _sysctl(lab, host, *args):
    return lab.run(host, ["sysctl", "-n", *args]).stdout.split()


def configure_member(lab, host, vip_address):
    """Make `host` (a Host or host name of `lab`) accept the VIP's traffic without answering
    ARP for it. Idempotent; several VIPs on one member are fine."""
    path = _saved_path(lab, host)
    saved = json.loads(path.read_text()) if path.exists() else None
    if saved is None:
        before = _sysctl(lab, host, *SYSCTLS)
        saved = {"sysctl": dict(zip(SYSCTLS, before)), "vips": []}
    if vip_address not in saved["vips"]:
        saved["vips"].append(vip_address)
    path.write_text(json.dumps(saved, indent=1) + "\n")
    # The sysctls first: from the moment the address exists it must not be answered.
    lab.run(host, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in SYSCTLS.items())])
    lab.run(host, ["ip", "addr", "replace", f"{vip_address}/32", "dev", "lo"])


def unconfigure_member(lab, host, vip_address):
    """Undo configure_member for one VIP; the sysctls go back to what they were once no VIP is
    left on the host."""
    lab.run(host, ["ip", "addr", "del", f"{vip_address}/32", "dev", "lo"], check=False)
    path = _saved_path(lab, host)
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    saved["vips"] = [v for v in saved["vips"] if v != vip_address]
    if saved["vips"]:
        path.write_text(json.dumps(saved, indent=1) + "\n")
        return
    lab.run(host, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in saved["sysctl"].items())])
    path.unlink()
