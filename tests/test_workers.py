"""The worker pool: preloaded modules exist, work is routed by card to stateful workers, failures
surface in the parent, and Ctrl-C stops a multi-process verify or run promptly and quietly."""

import importlib
import os
import signal
import subprocess
import sys
import time
from functools import partial
from operator import itemgetter
from pathlib import Path

import pytest

from cardsim import api
from cardsim.config.scenario import load
from cardsim.workers import PRELOAD, ShardedPool, WorkerError, shard_of

from conftest import ROOT


@pytest.mark.parametrize("name", PRELOAD)
def test_every_preloaded_module_imports(name):
    assert importlib.import_module(name).__name__ == name


class Remember:
    """A stateful test worker: the cards it saw, in order; fails on the card 'boom'."""

    def __init__(self, tag: str):
        self.tag, self.seen = tag, []

    def handle(self, batch):
        if "boom" in [card for card, _ in batch]:
            raise RuntimeError("boom card")
        self.seen.extend(batch)
        return len(batch)

    def finish(self):
        return (self.tag, os.getpid(), self.seen)


ITEMS = [(f"5{i % 7:011d}", i) for i in range(40)] + [("x-not-digits", 99)]


@pytest.mark.parametrize("n", [1, 3])
def test_items_reach_their_card_shard_in_order(n):
    pool = ShardedPool(partial(Remember, "t"), n, itemgetter(0))
    try:
        pool.submit(ITEMS[:20])
        pool.submit(ITEMS[20:])
        first = pool.collect()
        assert sum(first) == 20 and len(first) == n
        pool.collect()
        finals = pool.close()
    except BaseException:
        pool.abort()
        raise
    assert len({pid for _, pid, _ in finals}) == n and os.getpid() not in {f[1] for f in finals}
    for k, (_tag, _pid, seen) in enumerate(finals):
        assert seen == [it for it in ITEMS if shard_of(it[0], n) == k]   # its shard, in order


def test_in_process_pool_gives_the_same_results():
    pool = ShardedPool(partial(Remember, "local"), 4, itemgetter(0), in_process=True)
    pool.submit(ITEMS)
    assert pool.collect() == [len(ITEMS)]
    (_tag, pid, seen), = pool.close()
    assert pid == os.getpid() and seen == ITEMS


def test_a_failing_worker_is_an_error_in_the_parent():
    pool = ShardedPool(partial(Remember, "t"), 2, itemgetter(0))
    try:
        pool.submit([("boom", 1), ("12", 2)])
        with pytest.raises(WorkerError, match="RuntimeError: boom card"):
            pool.collect()
    finally:
        pool.abort(timeout=5)
    assert not any(p.is_alive() for p in pool.procs)


@pytest.fixture(scope="module")
def big_log(tmp_path_factory, keys_dir) -> Path:
    """About 12,000 records: a verify with two workers runs for seconds."""
    out = tmp_path_factory.mktemp("workers") / "big.db"
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.1,
              sets=["simulation.duration_hours=3", "simulation.start_hour=7"])
    api.run(sc, out=out, keys_dir=keys_dir, workers=2)
    return out


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in found:
                    found.add(k)
                    todo.append(k)
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("command", ["verify", "run"])
def test_ctrl_c_stops_every_process_quietly(command, big_log, keys_dir, tmp_path):
    args = {"verify": ["verify", str(big_log)],
            "run": ["run", str(ROOT / "scenarios" / "weekday.toml"), "--out", str(tmp_path / "r.db")]}
    cmd = [sys.executable, "-m", "cardsim", *args[command], "--keys", str(keys_dir),
           "--workers", "2", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                         start_new_session=True)   # its own group: Ctrl-C reaches all of it
    try:
        deadline = time.time() + 60
        while len(_descendants(p.pid)) < 3 and time.time() < deadline:   # fork server + 2 workers
            assert p.poll() is None, p.stderr.read().decode()
            time.sleep(0.02)
        time.sleep(0.3)
        assert p.poll() is None, "finished before the interrupt: the log is too small"
        kids = _descendants(p.pid)
        os.killpg(p.pid, signal.SIGINT)                # what a terminal's Ctrl-C does
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    err = err.decode()
    assert p.returncode == 130 and "interrupted" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    time.sleep(0.5)
    assert not {k for k in kids if Path(f"/proc/{k}").exists()
                and "zombie" not in Path(f"/proc/{k}/status").read_text()}, "a worker outlived it"
