"""The process context every worker pool uses (signing, writing, verifying, replaying, sweeps).

``forkserver`` with cardsim preloaded: workers fork from one server process that imported numpy,
SimPy, cryptography and cardsim once, instead of importing them again each (``spawn``: about half
a second per worker). Unlike plain ``fork`` it is safe when the parent has threads (the progress
bar's). Measured: a two-core sweep went from 1.65x to 1.89x with it.
"""

from __future__ import annotations

import multiprocessing as mp

PRELOAD = ["cardsim.model.simulation", "cardsim.log.pipeline", "cardsim.audit.verify",
           "cardsim.audit.replay", "cardsim.planning.sweep"]
_ctx = None


def start_workers(target, n: int, *args) -> tuple[list, list]:
    """Start ``n`` daemon processes ``target(conn, *args)``; returns (our pipe ends, processes)."""
    pipes, procs = [], []
    for _ in range(n):
        ours, theirs = context().Pipe()
        p = context().Process(target=target, args=(theirs, *args), daemon=True)
        p.start()
        theirs.close()
        pipes.append(ours)
        procs.append(p)
    return pipes, procs


def context():
    global _ctx
    if _ctx is None:
        _ctx = mp.get_context("forkserver")
        _ctx.set_forkserver_preload(PRELOAD)
    return _ctx
