#!/usr/bin/env bash
# README command 1: install what is missing, then start the demo -- a private Open vSwitch
# (userspace datapath), a client and three nginx members in network namespaces, and
# `ryu-manager lbctl_app` with config/lbctl.conf and the `web` VIP of config/vips.yaml.
#   sudo ./demo.sh              start (a second run replaces the first)
#   sudo ./demo.sh --tenants    start, with two tenant VLANs beside it (config/tenants.yaml,
#                               docs/demo.md); the same as `./demo.sh up --tenants`
#   sudo ./demo.sh --cluster    start two balancer switches, a and b, on one fabric instead, each
#                               active for one VIP's group (config/cluster.yaml, docs/demo.md)
#   sudo ./demo.sh fail a [--uplink]   the cluster demo: kill a's ovs-vswitchd (or cut its
#                               uplink) and show its groups move to b
#   sudo ./demo.sh repair a     bring a back (as a standby)
#   sudo ./demo.sh down         remove everything the demo made
#   sudo ./demo.sh status
set -euo pipefail
cd "$(dirname "$0")"
action=up
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then   # a first word that is no option: the action
  action="$1"
  shift
fi
if [ "$action" = up ]; then
  ./setup.sh
fi
exec .venv/bin/python -m lab demo "$action" "$@"
