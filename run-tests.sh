#!/usr/bin/env bash
# README command 2: install what is missing, then run the whole test suite -- unit tests of flows/,
# the model, the store and REST (no switch), and integration tests on real Open vSwitch with hosts
# in network namespaces and the real `ryu-manager lbctl_app`. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
exec .venv/bin/python -m pytest -q "$@" tests
