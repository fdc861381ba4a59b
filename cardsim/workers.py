"""The process context and the one worker pool every stage shares (signing, verifying, replaying).

``forkserver`` with cardsim preloaded: workers fork from one server process that imported numpy,
SimPy, cryptography and cardsim once, instead of importing them again each (``spawn``: about half
a second per worker). Unlike plain ``fork`` it is safe when the parent has threads (the progress
bar's). Measured: a two-core sweep went from 1.65x to 1.89x with it.

:class:`ShardedPool` runs stateful workers, each built once in its process from a picklable
factory. Work goes out in batches, each split by card (:func:`shard_of`, the one shard rule), so a
card's records always reach the same worker, in order. Results come back to the parent
(``collect``) or go to another process that reads the pool's result pipes (:func:`receive`).
Workers ignore SIGINT: on Ctrl-C the parent alone is interrupted and shuts them down, and a
worker whose parent is gone reads end-of-file and stops without a word.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import signal
from collections import deque
from typing import Any, Callable, Protocol

#: Modules the fork server imports once (each is imported by tests/test_workers.py).
PRELOAD = ["cardsim.model.simulation", "cardsim.log.pipeline", "cardsim.audit.verify",
           "cardsim.audit.replay", "cardsim.planning.sweep"]
_PROTO = pickle.HIGHEST_PROTOCOL
_ctx = None
# Message kinds on a worker's result pipe: a batch's result, the final result, a failure.
_PART, _DONE, _ERROR = "part", "done", "error"


class WorkerError(Exception):
    """A worker reported a failure (the message says which and why)."""


class WorkerLost(WorkerError):
    """A worker's pipe ended without a result: the process died."""


class Worker(Protocol):
    """What a pool worker does: one result per batch, one when the work is done."""

    def handle(self, batch: list) -> Any: ...

    def finish(self) -> Any: ...


def context():
    """The ``forkserver`` context with :data:`PRELOAD` (created once per process)."""
    global _ctx
    if _ctx is None:
        _ctx = mp.get_context("forkserver")
        _ctx.set_forkserver_preload(PRELOAD)
    return _ctx


def ignore_interrupts() -> None:
    """For a worker process: Ctrl-C is the parent's to handle (it shuts the workers down)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quiet(target: Callable, args: tuple) -> None:
    ignore_interrupts()
    target(*args)


def spawn(target: Callable, *args) -> mp.process.BaseProcess:
    """Start a daemon process ``target(*args)`` that ignores SIGINT."""
    p = context().Process(target=_quiet, args=(target, args), daemon=True)
    p.start()
    return p


def shard_of(card_id: str, n: int) -> int:
    """The worker of ``n`` that handles this card (stable across runs and processes)."""
    return int(card_id) % n if card_id.isdigit() else 0


def _serve(inbox, outbox, factory: Callable[[], Worker]) -> None:
    """A worker process: build the worker, then one reply per batch until the end message."""
    send = outbox.send_bytes
    try:
        worker = factory()
        while True:
            try:
                batch = pickle.loads(inbox.recv_bytes())
            except EOFError:           # the parent is gone: stop quietly
                return
            if batch is None:
                send(pickle.dumps((_DONE, worker.finish()), _PROTO))
                return
            send(pickle.dumps((_PART, worker.handle(batch)), _PROTO))
    except (BrokenPipeError, ConnectionResetError):   # the consumer is gone
        return
    except Exception as e:  # reported to the consumer
        try:
            send(pickle.dumps((_ERROR, f"{type(e).__name__}: {e}"), _PROTO))
        except OSError:
            pass


def receive(conns: list) -> tuple[bool, list]:
    """One message from each worker's result pipe, in worker order: (done, payloads), where
    ``done`` says these are the workers' final results. Raises :class:`WorkerError` when a worker
    failed and :class:`WorkerLost` when one died."""
    got, done = [], False
    for conn in conns:
        try:
            kind, payload = pickle.loads(conn.recv_bytes())
        except EOFError:
            raise WorkerLost("a worker process stopped") from None
        if kind == _ERROR:
            raise WorkerError(payload)
        done = done or kind == _DONE
        got.append(payload)
    return done, got


class ShardedPool:
    """``n`` stateful workers built by ``factory``, each taking the items of its card shard.

    ``card(item)`` gives an item's card number. ``forward=True``: results go to another process,
    which takes :attr:`outputs` (then call :meth:`release_outputs`) and reads them with
    :func:`receive`. ``in_process=True``: one worker in this process, same interface, no pickling.
    """

    def __init__(self, factory: Callable[[], Worker], n: int, card: Callable[[Any], str], *,
                 forward: bool = False, in_process: bool = False):
        self.n = 1 if in_process else max(1, n)
        self.card = card
        self.forward = forward
        self.local = factory() if in_process else None
        self._pending: deque = deque()        # in-process results not yet collected
        self.inboxes: list = []
        self.outputs: list = []
        self.procs: list = []
        if self.local is None:
            self._start(factory)

    def _start(self, factory: Callable[[], Worker]) -> None:
        ctx = context()
        for _ in range(self.n):
            w_in, ours = ctx.Pipe(duplex=False)       # parent -> worker
            out_r, w_out = ctx.Pipe(duplex=False)     # worker -> parent or consumer
            self.procs.append(spawn(_serve, w_in, w_out, factory))
            w_in.close()
            w_out.close()
            self.inboxes.append(ours)
            self.outputs.append(out_r)

    def release_outputs(self) -> None:
        """Close this process's copies of the result pipes once the consumer holds them, so
        that a dead consumer is a broken pipe for the workers."""
        for conn in self.outputs:
            conn.close()
        self.outputs = []

    def submit(self, items: list, shared: Any = None) -> None:
        """Send one batch: each worker gets its shard (possibly empty), one pickle each. With
        ``shared``, every worker's ``handle`` receives ``(shard, shared)`` instead of the shard
        (e.g. the batch's attack marks, which any shard may need)."""
        if self.local is not None:
            self._pending.append([self.local.handle(items if shared is None else (items, shared))])
            return
        if self.n == 1:        # performance shortcut: no split for one worker
            payload = items if shared is None else (items, shared)
            self.inboxes[0].send_bytes(pickle.dumps(payload, _PROTO))
            return
        shards: list[list] = [[] for _ in range(self.n)]
        card, n = self.card, self.n
        for item in items:
            cid = card(item)
            shards[int(cid) % n if cid.isdigit() else 0].append(item)   # shard_of, inlined: hot
        for conn, part in zip(self.inboxes, shards):
            conn.send_bytes(pickle.dumps(part if shared is None else (part, shared), _PROTO))

    def collect(self) -> list:
        """The results of the oldest batch not yet collected, one per worker in worker order."""
        if self.local is not None:
            return self._pending.popleft()
        done, got = receive(self.outputs)
        if done:
            raise WorkerError("a worker finished before its work was done")
        return got

    def close(self) -> list:
        """Tell every worker to finish and wait for it; returns their final results, one per
        worker (none when results are forwarded). Uncollected batch results are discarded."""
        if self.local is not None:
            return [self.local.finish()]
        for conn in self.inboxes:
            conn.send_bytes(pickle.dumps(None, _PROTO))
        finals = [] if self.forward else self._finals()
        for p in self.procs:
            p.join()
        return finals

    def _finals(self) -> list:
        while True:
            done, got = receive(self.outputs)
            if done:
                return got

    def abort(self, timeout: float = 10) -> None:
        """Stop without results: close the pipes (workers read end-of-file), then wait up to
        ``timeout`` seconds for each worker before terminating it. An in-process worker is
        finished, so what it holds open (a log connection) is released."""
        if self.local is not None:
            self.local.finish()
            return
        for conn in self.inboxes + self.outputs:
            try:
                conn.close()
            except OSError:
                pass
        for p in self.procs:
            p.join(timeout)
            if p.is_alive():
                p.terminate()
