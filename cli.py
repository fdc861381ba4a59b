#!/usr/bin/env python3
"""Run cardsim from a checkout: ``python cli.py --help``. The app itself lives in cardsim/cli.py."""

from cardsim.cli import main

if __name__ == "__main__":
    main()
