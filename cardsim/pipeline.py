"""The log pipeline: the simulation hands batches of records to a writer process.

The simulation runs on one core; SQLite insertion (about 7 us a row) runs on another. Batches
travel pickled over a pipe (about 0.7 us a row); a pipe holds less than one batch, so a writer
that falls behind slows the simulation rather than letting memory grow. Records arrive and are
written in ``seq`` order, so the log is the same whatever the timing.

If the simulation process dies, the writer reads end-of-file and closes the log without marking
the run complete: every committed batch stays intact.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import traceback
from pathlib import Path

from .errors import CardsimError
from .log import LogWriter

_CTX = mp.get_context("spawn")  # safe with threads (progress bar) and on every platform


def _writer_main(conn, path: str) -> None:
    writer = LogWriter.append(path)
    try:
        while True:
            try:
                kind, payload = pickle.loads(conn.recv_bytes())
            except EOFError:  # the simulation died: leave the run marked incomplete
                return
            if kind == "rows":
                writer.write(payload)
            elif kind == "blacklist":
                writer.write_blacklist(payload)
            elif kind == "finish":
                summary, wall = payload
                writer.finish(summary, wall)
                conn.send(("ok", writer.written))
                return
    except Exception as e:  # report to the parent; it turns this into a user-facing error
        try:
            conn.send(("error", f"{type(e).__name__}: {e}", traceback.format_exc()))
        except OSError:
            pass
    finally:
        try:
            writer.db.conn.close()
        except Exception:
            pass


class LogSink:
    """Callable sink for :class:`cardsim.model.Simulation` that writes through a writer process."""

    def __init__(self, path: str | Path, scenario, force: bool = False):
        self.path = Path(path)
        LogWriter.create(self.path, scenario, force=force).close()
        self._conn, child = _CTX.Pipe()
        self._proc = _CTX.Process(target=_writer_main, args=(child, str(self.path)), daemon=True)
        self._proc.start()
        child.close()

    def __call__(self, rows: list[tuple]) -> None:
        self._send(("rows", rows))

    def _send(self, msg) -> None:
        try:
            self._conn.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._fail()

    def _fail(self) -> None:
        reason = "the writer process stopped"
        try:
            if self._conn.poll(1):
                msg = self._conn.recv()
                if msg[0] == "error":
                    reason = msg[1]
        except (EOFError, OSError):
            pass
        self._proc.join(5)
        raise CardsimError(f"{self.path}: writing the log failed: {reason}")

    def finish(self, summary: dict, wall_seconds: float, blacklist: list) -> int:
        """Write the blacklist, mark the run complete; returns the records written."""
        self._send(("blacklist", blacklist))
        self._send(("finish", (summary, wall_seconds)))
        try:
            msg = self._conn.recv()
        except EOFError:
            self._fail()
        if msg[0] != "ok":
            raise CardsimError(f"{self.path}: writing the log failed: {msg[1]}")
        self._proc.join()
        self._conn.close()
        return msg[1]

    def abort(self) -> None:
        """Stop without marking the run complete (an interrupted or failed run)."""
        try:
            self._conn.close()
        finally:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.terminate()
