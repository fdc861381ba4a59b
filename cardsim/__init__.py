"""cardsim: a discrete-event simulator of social-security one-card transactions.

The package is organised one module per domain concept:

- ``schema``        every scenario key, its type, unit, default and bounds
- ``scenario``      loading, validating and overriding scenario files
- ``distributions`` random variates as objects; ``streams`` the seeded random streams
- ``card``          cards, holders and the lazily created card population
- ``fares``         fare rules (flat, distance bands, transfers, senior quota)
- ``service_point`` groups of terminals with a queue (gates, validators, windows)
- ``merchant``      merchant/acquirer nodes and their offline decision rule
- ``issuer``        issuer nodes and their online decision rule
- ``hub``           the inter-provincial hub: routing, stand-in and clearing
- ``demand``        time-varying arrivals
- ``record``        the transaction record: columns, one place
- ``log``           the SQLite transaction log
- ``stats``         streaming statistics (histograms, busy time)
- ``model``         wires the above into one SimPy run
- ``cli``           the command line, a thin layer over the above
"""

__version__ = "0.1.0"

PROVINCES = ("sichuan", "chongqing")
CHANNELS = ("transit", "tourism", "government")
