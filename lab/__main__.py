"""Command line of the lab: `python -m lab demo up|down|status [--workdir DIR]
[--tenants | --cluster] [--no-controller] [--app APP]`, and for the cluster demo
`python -m lab demo fail|repair BALANCER [--uplink]`."""

import argparse
import sys

from lab import demo


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab")
    sub = parser.add_subparsers(dest="command", required=True)
    demo_parser = sub.add_parser("demo", help="the README's demo: switch, client, three members")
    demo_parser.add_argument("action", choices=("up", "down", "status", "fail", "repair"))
    demo_parser.add_argument("balancer", nargs="?",
                             help="fail, repair: a balancer of the cluster demo (a or b)")
    demo_parser.add_argument("--workdir", default=str(demo.WORKDIR),
                             help=f"where the demo keeps its files (default {demo.WORKDIR})")
    variant = demo_parser.add_mutually_exclusive_group()
    variant.add_argument("--tenants", action="store_true",
                         help="up: add two tenant VLANs with one address plan and start "
                              "with config/tenants.yaml (docs/demo.md)")
    variant.add_argument("--cluster", action="store_true",
                         help="up: two balancer switches, a and b, on one fabric, each active "
                              "for one group of config/cluster.yaml (docs/demo.md)")
    demo_parser.add_argument("--uplink", action="store_true",
                             help="fail: cut the balancer's uplink rather than kill its switch")
    demo_parser.add_argument("--no-controller", action="store_true",
                             help="up: build the switch and hosts, start no controller")
    demo_parser.add_argument("--app", default=demo.APP,
                             help=f"up: the Ryu application to run (default {demo.APP})")
    args = parser.parse_args(argv)
    if (args.balancer is None) == (args.action in ("fail", "repair")):
        parser.error(f"{args.action}: " + ("name a balancer (a or b)" if args.balancer is None
                                           else f"takes no balancer ({args.balancer!r})"))
    if args.uplink and args.action != "fail":
        parser.error(f"{args.action}: --uplink is for fail")

    if args.action == "up":
        demo.up(args.workdir, controller=not args.no_controller, app=args.app,
                tenants=args.tenants, cluster=args.cluster)
        return 0
    if args.action == "down":
        demo.down(args.workdir)
        return 0
    if args.action == "fail":
        demo.fail(args.workdir, args.balancer, uplink=args.uplink)
        return 0
    if args.action == "repair":
        demo.repair(args.workdir, args.balancer)
        return 0
    return demo.status(args.workdir)


if __name__ == "__main__":
    sys.exit(main())
