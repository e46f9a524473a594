#!/usr/bin/env bash
# README command 1: install what is missing, then start the demo -- a private Open vSwitch
# (userspace datapath), a client and three nginx members in network namespaces, and
# `ryu-manager lbctl_app` with config/lbctl.conf and the `web` VIP of config/vips.yaml.
#   sudo ./demo.sh              start (a second run replaces the first)
#   sudo ./demo.sh --tenants    start, with two tenant VLANs beside it (config/tenants.yaml,
#                               docs/demo.md); the same as `./demo.sh up --tenants`
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
