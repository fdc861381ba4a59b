"""The log pipeline: simulation -> signing workers -> writer, each its own process.

::

    simulation ──batch b, split by card shard──▶ worker 0 … worker N-1 ──signed parts of b──▶ writer
         └──────────────── control: finish (summary, blacklist) ──────────────────────────▶ writer

- The simulation runs on one core and hands every batch to the workers, each taking the records of
  its card shard (``signing.shard_of``), so signing uses the other cores.
- The writer takes batch b's part from every worker in turn, merges them by ``seq``, extends the
  hash chain, signs the terminals' upload batches that the rows complete (``upload``), and commits
  the rows, the certificates they first need, any checkpoints and the uploads in one SQLite
  transaction. Unsigned logs (``--no-sign``) skip the workers and the chain.
- Pipes hold less than a batch, so a slow stage slows the ones before it instead of growing memory.
- If the simulation dies, workers and writer read end-of-file and stop; the writer never commits a
  batch it has not received whole, and the run stays marked incomplete.

Batches travel pickled (about 0.7 us a row). Processes come from ``procs.context()``.
"""

from __future__ import annotations

import pickle
import traceback
from operator import itemgetter
from pathlib import Path

from cardsim.log.chain import Chain
from cardsim.records.encoding import genesis_hash
from cardsim.workers import context
from cardsim.errors import CardsimError
from cardsim.domain import PROVINCES
from cardsim.signing.keys import (HUB, KeyRing, all_names, cert_der, issuer_name, load_certificate, merchant_ids,
                   merchant_name)
from cardsim.log.store import LogWriter
from cardsim.records.record import INDEX
from cardsim.signing.signer import RecordSigner, SignSpec, shard_of, sign_blacklists
from cardsim.signing.upload import Batches, TerminalSigner

_DUMP = pickle.dumps
_PROTO = pickle.HIGHEST_PROTOCOL
_SEQ = itemgetter(0)
_TIME = INDEX["sim_time"]


def _worker_main(inbox, outbox, spec: SignSpec) -> None:
    try:
        signer = RecordSigner(spec)
        while True:
            try:
                msg = pickle.loads(inbox.recv_bytes())
            except EOFError:           # the simulation died: stop quietly
                return
            if msg is None:
                signer.close()               # cards issued in this run join the register
                outbox.send_bytes(_DUMP(None, _PROTO))
                return
            rows, marks = msg
            outbox.send_bytes(_DUMP(signer.sign(rows, marks), _PROTO))
    except (BrokenPipeError, ConnectionResetError):
        return
    except Exception as e:  # reported by the writer to the simulation
        try:
            outbox.send_bytes(_DUMP(("error", f"signing worker: {type(e).__name__}: {e}"), _PROTO))
        except OSError:
            pass


def _writer_main(control, parts, path: str, spec: SignSpec | None, genesis: bytes,
                 every: int) -> None:
    writer = None
    try:
        writer = LogWriter.append(path)
        if spec is not None:
            ring = KeyRing.load(spec.keys_dir, spec.passphrase,
                                names=[HUB] + [issuer_name(p) for p in PROVINCES]
                                + [merchant_name(m) for m in merchant_ids()])
            alg = ring.algorithm
            hub_key = alg.signing_key(ring.private[HUB])   # libsodium for Ed25519
            chain = Chain(genesis, every, lambda m: alg.sign(hub_key, m))
            batches, terminals = Batches(), TerminalSigner(ring)
            while True:
                got, ended = [], 0
                for conn in parts:
                    try:
                        msg = pickle.loads(conn.recv_bytes())
                    except EOFError:
                        return                       # a worker died: leave the run incomplete
                    if msg is None:
                        ended += 1
                    elif msg[0] == "error":
                        control.send(("error", msg[1]))
                        return
                    else:
                        got.append(msg)
                if ended:
                    break
                rows = sorted((r for part in got for r in part[0]), key=_SEQ)
                certs = [c for _, c in sorted((c for part in got for c in part[1]), key=_SEQ)]
                chained = chain.extend(rows)
                batches.add_rows(chained)
                uploads, tcerts = terminals.sign(batches.close(chained[-1][_TIME]) if chained else [])
                writer.write(chained, certs + tcerts, chain.take(), uploads)
        else:
            chain = None
            blank = (None, None, None, None)
        while True:      # unsigned logs: rows come on the control pipe; both: then "finish"
            try:
                kind, payload = pickle.loads(control.recv_bytes())
            except EOFError:
                return
            if kind != "rows":
                break
            writer.write([r + blank for r in payload])
        summary, wall, blacklist, end_time, metrics = payload
        final, uploads, tcerts, lists, totals = [], [], [], [], []
        if chain is not None:     # the terminals upload what they hold; the hub signs the end
            final = [chain.checkpoint(end_time, final=1)]
            uploads, tcerts = terminals.sign(batches.close(None))
            totals = terminals.merchant_totals(merchant_ids())   # each merchant, its terminals
            lists = sign_blacklists(ring, blacklist)    # each issuer, its loss reports
        writer.write_blacklist(blacklist, lists)
        writer.finish(summary, wall, final, metrics, uploads, tcerts, totals)
        control.send(("ok", writer.written))
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
                 spec: SignSpec | None = None, workers: int = 1):
        self.path = Path(path)
        self.spec = spec
        self.workers = max(1, workers) if spec else 0
        algorithm = None
        if spec is not None:
            ring = KeyRing.load(spec.keys_dir, spec.passphrase,
                                names=[n for n in all_names() if n.startswith(("issuer-", HUB))])
            algorithm = ring.algorithm.name
        LogWriter.create(self.path, scenario, force=force, algorithm=algorithm,
                         x509=x509_rows(spec.keys_dir, algorithm) if spec else ()).close()
        self._control, control_child = context().Pipe()
        self._inboxes, outs, procs = [], [], []
        for _ in range(self.workers):
            w_in, m_out = context().Pipe(duplex=False)     # simulation -> worker
            wr_in, w_out = context().Pipe(duplex=False)    # worker -> writer
            procs.append(context().Process(target=_worker_main, args=(w_in, w_out, spec), daemon=True))
            self._inboxes.append(m_out)
            outs.append((wr_in, w_in, w_out))
        genesis = genesis_hash(scenario.config_json(), scenario.seed)
        every = scenario.config["simulation"]["checkpoint_every"]
        self._writer = context().Process(target=_writer_main,
                                    args=(control_child, [o[0] for o in outs], str(self.path), spec,
                                          genesis, every), daemon=True)
        self._procs = procs + [self._writer]
        for p in self._procs:
            p.start()
        control_child.close()
        for wr_in, w_in, w_out in outs:
            wr_in.close()
            w_in.close()
            w_out.close()

    def __call__(self, rows: list[tuple], marks: dict[int, str]) -> None:
        """One batch of model rows, and the marks (seq -> attack kind) of the rows an attacker
        injected: every worker gets the batch's marks with its part of the rows."""
        try:
            if self.workers:
                if self.workers == 1:
                    self._inboxes[0].send_bytes(_DUMP((rows, marks), _PROTO))
                    return
                shards: list[list] = [[] for _ in range(self.workers)]
                n = self.workers
                for r in rows:
                    shards[shard_of(r[7], n)].append(r)   # r[7]: card_id
                for conn, part in zip(self._inboxes, shards):
                    conn.send_bytes(_DUMP((part, marks), _PROTO))
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
               metrics: list = ()) -> int:
        """Flush the workers, write the final checkpoint and metrics, mark the run complete."""
        try:
            for conn in self._inboxes:
                conn.send_bytes(_DUMP(None, _PROTO))
            self._control.send_bytes(_DUMP(("finish", (summary, wall_seconds, blacklist, end_time,
                                                       list(metrics))), _PROTO))
            msg = self._control.recv()
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._fail()
        if msg[0] != "ok":
            self.abort()
            raise CardsimError(f"{self.path}: writing the log failed: {msg[1]}")
        for p in self._procs:
            p.join()
        self._control.close()
        return msg[1]

    def abort(self) -> None:
        """Stop without marking the run complete (an interrupted or failed run)."""
        for conn in self._inboxes + [self._control]:
            try:
                conn.close()
            except OSError:
                pass
        for p in self._procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
