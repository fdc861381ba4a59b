"""The command line, a thin layer over :mod:`cardsim.api`; ``docgen`` writes docs/cli.md from it."""
