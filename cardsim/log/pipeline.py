"""The log pipeline: simulation -> signing workers -> writer, each its own process.

::

    simulation ──batch b, split by card shard──▶ worker 0 … worker N-1 ──signed parts of b──▶ writer
         └──────────────── control: finish (summary, blacklist) ──────────────────────────▶ writer

- The simulation runs on one core and hands every batch to the workers, each taking the records of
  its card shard (``workers.shard_of``), so signing uses the other cores.
- The writer takes batch b's part from every worker in turn, merges them by ``seq``, extends the
  hash chain, signs the terminals' upload batches that the rows complete (``upload``), and commits
  the rows, the certificates they first need, any checkpoints and the uploads in one SQLite
  transaction. Unsigned logs (``--no-sign``) skip the workers and the chain.
- Pipes hold less than a batch, so a slow stage slows the ones before it instead of growing memory.
- If the simulation dies, workers and writer read end-of-file and stop; the writer never commits a
  batch it has not received whole, and the run stays marked incomplete.

Batches travel pickled (about 0.7 us a row). The signing workers are a
:class:`cardsim.workers.ShardedPool` whose results go to the writer process.
"""

from __future__ import annotations

import pickle
import traceback
from functools import partial
from operator import itemgetter
from pathlib import Path

from cardsim.log.chain import Chain
from cardsim.records.encoding import genesis_hash
from cardsim.workers import ShardedPool, WorkerError, WorkerLost, context, receive, spawn
from cardsim.errors import CardsimError
from cardsim.domain import PROVINCES
from cardsim.signing.keys import (HUB, KeyRing, all_names, cert_der, issuer_name, load_certificate, merchant_ids,
                   merchant_name)
from cardsim.log.store import LogWriter
from cardsim.records.record import INDEX
from cardsim.signing.signer import RecordSigner, SignSpec, sign_blacklists, sign_card_state
from cardsim.signing.upload import Batches, TerminalSigner

_DUMP = pickle.dumps
_PROTO = pickle.HIGHEST_PROTOCOL
_SEQ = itemgetter(0)
_TIME = INDEX["sim_time"]
_CARD = itemgetter(INDEX["card_id"])


class _Signing:
    """A signing worker (a :class:`~cardsim.workers.ShardedPool` worker): signs its card shard's
    rows; at the end, saves the cards it issued."""

    def __init__(self, spec: SignSpec):
        self.signer = RecordSigner(spec)

    def handle(self, batch: tuple[list[tuple], dict]) -> tuple[list[tuple], list[tuple]]:
        """``batch``: (this shard's rows, the whole batch's attack marks)."""
        rows, marks = batch
        return self.signer.sign(rows, marks)

    def finish(self) -> None:
        self.signer.close()               # cards issued in this run join the register


class _SignedLog:
    """The writer's signed half: merges the workers' parts, extends the hash chain, signs the
    terminals' uploads and, at the end, the final checkpoint, totals and loss reports."""

    def __init__(self, spec: SignSpec, genesis: bytes, every: int):
        self.ring = ring = KeyRing.load(spec.keys_dir, spec.passphrase,
                                        names=[HUB] + [issuer_name(p) for p in PROVINCES]
                                        + [merchant_name(m) for m in merchant_ids()])
        alg = ring.algorithm
        hub_key = alg.signing_key(ring.private[HUB])   # libsodium for Ed25519
        self.chain = Chain(genesis, every, lambda m: alg.sign(hub_key, m))
        self.batches, self.terminals = Batches(), TerminalSigner(ring, genesis)

    def write(self, writer: LogWriter, got: list) -> None:
        """One batch: every worker's (signed rows, certificates) part."""
        rows = sorted((r for part in got for r in part[0]), key=_SEQ)
        certs = [c for _, c in sorted((c for part in got for c in part[1]), key=_SEQ)]
        chained = self.chain.extend(rows)
        self.batches.add_rows(chained)
        closed = self.batches.close(chained[-1][_TIME]) if chained else []
        uploads, tcerts = self.terminals.sign(closed)
        writer.write(chained, certs + tcerts, self.chain.take(), uploads, self.chain.take_blocks())

    def end(self, blacklist: list, end_time: float, card_state: list) -> tuple:
        """(final checkpoints, uploads, terminal certificates, loss-report signatures, totals,
        the card state's signature): the terminals upload what they hold; the hub signs the end
        and the cards' state."""
        final = [self.chain.checkpoint(end_time, final=1)]
        uploads, tcerts = self.terminals.sign(self.batches.close(None))
        totals = self.terminals.merchant_totals(merchant_ids(), end_time)  # each merchant
        lists = sign_blacklists(self.ring, blacklist, self.chain.log_id, end_time)  # each issuer
        states = sign_card_state(self.ring, card_state, self.chain.log_id, end_time)  # the hub
        return final, uploads, tcerts, lists, totals, states


def _signed_batches(control, parts: list, writer: LogWriter, signed: _SignedLog) -> bool:
    """Write batches until every worker has finished; False when the run must stop here."""
    while True:
        try:
            done, got = receive(parts)
        except WorkerLost:
            return False                       # a worker died: leave the run incomplete
        except WorkerError as e:
            control.send(("error", f"signing worker: {e}"))
            return False
        if done:
            return True
        signed.write(writer, got)


def _finish_payload(control, writer: LogWriter) -> tuple | None:
    """Unsigned logs: rows come on the control pipe; both: then "finish". The finish payload, or
    None when the simulation died."""
    blank = (None, None, None, None)
    while True:
        try:
            kind, payload = pickle.loads(control.recv_bytes())
        except EOFError:
            return None
        if kind != "rows":
            return payload
        writer.write([r + blank for r in payload])


def _write_log(control, parts: list, writer: LogWriter, spec: SignSpec | None, genesis: bytes,
               every: int) -> None:
    signed = None
    if spec is not None:
        signed = _SignedLog(spec, genesis, every)
        # a log that follows another: its terminals number their uploads on from there
        signed.terminals.start = dict(writer.db.conn.execute("SELECT * FROM upload_start"))
    if signed is not None and not _signed_batches(control, parts, writer, signed):
        return
    payload = _finish_payload(control, writer)
    if payload is None:
        return
    summary, wall, blacklist, end_time, metrics, card_state = payload
    final, uploads, tcerts, lists, totals, states = [], [], [], [], [], []
    if signed is not None:
        final, uploads, tcerts, lists, totals, states = signed.end(blacklist, end_time, card_state)
    writer.write_blacklist(blacklist, lists)
    writer.finish(summary, wall, final, metrics, uploads, tcerts, totals, card_state, states)
    control.send(("ok", writer.written))


def _writer_main(control, parts: list, path: str, spec: SignSpec | None, genesis: bytes,
                 every: int) -> None:
    """The writer process: the log's only writer; errors go to the simulation on ``control``."""
    writer = None
    try:
        writer = LogWriter.append(path)
        _write_log(control, parts, writer, spec, genesis, every)
    except Exception as e:
        try:
            control.send(("error", f"{type(e).__name__}: {e}", traceback.format_exc()))
        except OSError:
            pass
    finally:
        if writer is not None:
            try:
                writer.db.conn.close()
            except Exception:
                pass


def x509_rows(keys_dir: str | Path, algorithm: str) -> list[tuple]:
    """The CA-layer certificates a log carries (public; the verifier checks them to the root)."""
    d = Path(keys_dir)
    return [(n, "x509", "root-ca", algorithm, cert_der(load_certificate(d / f"{n}.pem")), None)
            for n in all_names()]


class LogSink:
    """Callable sink for :class:`cardsim.model.simulation.Simulation` writing a (signed) log."""

    def __init__(self, path: str | Path, scenario, force: bool = False,
                 spec: SignSpec | None = None, workers: int = 1, carried=None):
        """``carried``: the :class:`cardsim.log.days.CarriedState` of a log that follows another
        (its genesis commits to the previous log's final signed tree head)."""
        self.path = Path(path)
        self.spec = spec
        algorithm = None
        if spec is not None:
            ring = KeyRing.load(spec.keys_dir, spec.passphrase,
                                names=[n for n in all_names() if n.startswith(("issuer-", HUB))])
            algorithm = ring.algorithm.name
        LogWriter.create(self.path, scenario, force=force, algorithm=algorithm,
                         x509=x509_rows(spec.keys_dir, algorithm) if spec else (),
                         predecessor=carried.predecessor if carried else None,
                         card_start=carried.rows() if carried else (),
                         upload_start=sorted(carried.uploads.items()) if carried else ()).close()
        self.pool = None
        if spec is not None:      # signing workers, their results forwarded to the writer
            self.pool = ShardedPool(partial(_Signing, spec), workers, _CARD, forward=True)
        self._control, control_child = context().Pipe()
        genesis = genesis_hash(scenario.config_json(), scenario.seed,
                               carried.previous if carried else None)
        every = scenario.config["simulation"]["checkpoint_every"]
        self._writer = spawn(_writer_main, control_child, self.pool.outputs if self.pool else [],
                             str(self.path), spec, genesis, every)
        control_child.close()
        if self.pool is not None:
            self.pool.release_outputs()

    def __call__(self, rows: list[tuple], marks: dict[int, str]) -> None:
        """One batch of model rows, and the marks (seq -> attack kind) of the rows an attacker
        injected: every worker gets the batch's marks with its part of the rows."""
        try:
            if self.pool is not None:
                self.pool.submit(rows, marks)
            else:
                self._control.send_bytes(_DUMP(("rows", rows), _PROTO))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._fail()

    def _fail(self) -> None:
        reason = "a pipeline process stopped"
        try:
            if self._control.poll(2):
                msg = self._control.recv()
                if msg[0] == "error":
                    reason = msg[1]
        except (EOFError, OSError):
            pass
        self.abort()
        raise CardsimError(f"{self.path}: writing the log failed: {reason}")

    def finish(self, summary: dict, wall_seconds: float, blacklist: list, end_time: float,
               metrics: list = (), card_state: list = ()) -> int:
        """Flush the workers, write the final checkpoint, metrics and the cards' final state,
        mark the run complete."""
        try:
            if self.pool is not None:
                self.pool.close()
            self._control.send_bytes(_DUMP(("finish", (summary, wall_seconds, blacklist, end_time,
                                                       list(metrics), list(card_state))), _PROTO))
            msg = self._control.recv()
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._fail()
        if msg[0] != "ok":
            self.abort()
            raise CardsimError(f"{self.path}: writing the log failed: {msg[1]}")
        self._writer.join()
        self._control.close()
        return msg[1]

    def abort(self) -> None:
        """Stop without marking the run complete (an interrupted or failed run)."""
        if self.pool is not None:
            self.pool.abort()
        try:
            self._control.close()
        except OSError:
            pass
        self._writer.join(10)
        if self._writer.is_alive():
            self._writer.terminate()
