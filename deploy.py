#!/usr/bin/env python3
"""FileFerry infrastructure provisioner CLI. See README.md, or `python deploy.py --help`."""

import sys

from provisioner.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
