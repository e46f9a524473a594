"""Command line of the lab: `python -m lab demo up|down|status [--workdir DIR]
[--tenants] [--no-controller] [--app APP]`."""

import argparse
import sys

from lab import demo


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab")
    sub = parser.add_subparsers(dest="command", required=True)
    demo_parser = sub.add_parser("demo", help="the README's demo: switch, client, three members")
    demo_parser.add_argument("action", choices=("up", "down", "status"))
    demo_parser.add_argument("--workdir", default=str(demo.WORKDIR),
                             help=f"where the demo keeps its files (default {demo.WORKDIR})")
    demo_parser.add_argument("--tenants", action="store_true",
                             help="up: add two tenant VLANs with one address plan and start "
                                  "with config/tenants.yaml (docs/demo.md)")
    demo_parser.add_argument("--no-controller", action="store_true",
                             help="up: build the switch and hosts, start no controller")
    demo_parser.add_argument("--app", default=demo.APP,
                             help=f"up: the Ryu application to run (default {demo.APP})")
    args = parser.parse_args(argv)

    if args.action == "up":
        demo.up(args.workdir, controller=not args.no_controller, app=args.app,
                tenants=args.tenants)
        return 0
    if args.action == "down":
        demo.down(args.workdir)
        return 0
    return demo.status(args.workdir)


if __name__ == "__main__":
    sys.exit(main())
