"""`python -m lbctl_cli`: the `lbctl` command, run from whatever `lbctl_cli` Python finds first (a
checkout on PYTHONPATH, say) rather than from the installed console script's package."""
import sys

from lbctl_cli.cli import main

sys.exit(main())
