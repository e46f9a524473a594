"""Pure flow computation: a model of VIPs and hosts in, the OpenFlow state a switch should hold out.

Nothing here talks to a switch or imports Ryu's event loop; `render` turns the result into Ryu
messages or `ovs-ofctl` text.
"""
