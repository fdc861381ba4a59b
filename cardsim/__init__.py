"""cardsim: a discrete-event simulator of social-security one-card transactions.

The subpackages are the stages of a run, lowest first; a package imports only those above it in
this list (``tests/test_layers.py`` checks it):

- ``domain``, ``errors``, ``workers``  names, user errors, the worker pool every stage shares
- ``config``    scenario schema, loading and overrides, metric names and thresholds
- ``records``   the transaction record (columns, codes) and the canonical byte encoding
- ``model``     the SimPy model: cards, fares, demand, service points, the nodes (issuer,
                merchant, hub) and their decision rules, statistics and the run summary
- ``signing``   algorithms, keys, the card register, record and upload signers
- ``log``       the SQLite log, the hash chain and the simulation -> signing -> writer pipeline
- ``audit``     verify, replay and the trace-driven what-if (retime)
- ``attacks``   attack injection with ground truth (plugged in by ``api``; nothing else imports it)
- ``planning``  sweeps; ``report``  HTML and text reports
- ``api``       the Python API; ``cli``  the command line, a thin layer over ``api``
"""

from cardsim.domain import CHANNELS, PROVINCES, __version__

__all__ = ["CHANNELS", "PROVINCES", "__version__"]
