#!/usr/bin/env python3
"""Run cardsim from a checkout: ``python cli.py --help``. The app itself lives in cardsim/cli/app.py."""

from cardsim.cli.app import main

if __name__ == "__main__":
    main()
