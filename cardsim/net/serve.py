"""``cardsim serve``: start one node from a log (its scenario, cards, loss reports and outages)
or a scenario file, and the keys directory; listen, and run until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable, Sequence

from cardsim.domain import PROVINCES
from cardsim.errors import CardsimError
from cardsim.net.acquirer import AcquirerService
from cardsim.net.client import parse_address
from cardsim.net.hub import HubService
from cardsim.net.issuer import IssuerService
from cardsim.net.node import load_node
from cardsim.net.server import Limits, NodeServer, printable, stderr_log
from cardsim.signing.keys import HUB, issuer_name, merchant_ids, merchant_name

ROLES = ("issuer", "hub", "acquirer")


def _address(text: str, what: str) -> tuple[str, int]:
    try:
        return parse_address(text, what)
    except ValueError as e:
        raise CardsimError(str(e)) from None


def parse_routes(routes: Sequence[str]) -> dict[str, tuple[str, int]]:
    """``PROVINCE=HOST:PORT`` items -> {province: (host, port)}."""
    out = {}
    for item in routes:
        name, sep, addr = item.partition("=")
        if not sep or name not in PROVINCES:
            raise CardsimError(f"--route {item!r}: expected PROVINCE=HOST:PORT with PROVINCE one of "
                               f"{', '.join(PROVINCES)}")
        out[name] = _address(addr, f"--route {name}")
    return out


def build(role: str, log: str | Path, keys_dir: str | Path, province: str | None = None,
          routes: Sequence[str] = (), issuer_timeout_s: float = 1.0,
          passphrase: bytes | None = None, limits: Limits = Limits(),
          logger: Callable[[str], None] = stderr_log, merchant: str | None = None,
          scenario: str | Path | None = None) -> NodeServer:
    """The server of one node, its state loaded (errors are :class:`CardsimError`)."""
    raw_logger = logger
    logger = lambda line: raw_logger(printable(line, 300))   # noqa: E731 - a peer's text, escaped
    if role == "acquirer":
        return _acquirer(log, keys_dir, merchant, routes, issuer_timeout_s, passphrase, limits,
                         logger, scenario)
    if role == "issuer":
        if province not in PROVINCES:
            raise CardsimError(f"--province: expected one of {', '.join(PROVINCES)}, got {province!r}")
        state = load_node(log, keys_dir, [issuer_name(province)], passphrase, scenario)
        return NodeServer(f"issuer-{province}", IssuerService(state, province, logger).handle,
                          limits, logger)
    if role == "hub":
        table = parse_routes(routes)
        state = load_node(log, keys_dir, [HUB], passphrase, scenario)
        return NodeServer("hub", HubService(state, table, issuer_timeout_s, logger).handle,
                          limits, logger)
    raise CardsimError(f"serve: expected a node, one of {', '.join(ROLES)}, got {role!r}")


def serve(server: NodeServer, listen: str,
          ready: Callable[[str, int], None] = lambda h, p: stderr_log(f"listening on {h}:{p}")) -> None:
    """Listen on ``listen`` (``HOST:PORT``; port 0 picks a free one) until SIGTERM or SIGINT."""
    host, port = _address(listen, "--listen")
    try:
        asyncio.run(server.serve(host, port, ready))
    except OSError as e:
        raise CardsimError(f"--listen {listen}: {e.strerror or e}") from None


def _acquirer(log, keys_dir, merchant, routes, timeout_s, passphrase, limits, logger,
              scenario) -> NodeServer:
    if merchant not in merchant_ids():
        raise CardsimError(f"--merchant: expected one of {', '.join(merchant_ids())}, got {merchant!r}")
    if len(routes) > 1 or any("=" in r for r in routes):
        raise CardsimError("--route: an acquirer takes one upstream HOST:PORT (the hub)")
    upstream = _address(routes[0], "--route") if routes else None
    state = load_node(log, keys_dir, [merchant_name(merchant)], passphrase, scenario)
    return NodeServer(f"acquirer-{merchant}",
                      AcquirerService(state, merchant, upstream, timeout_s, logger).handle,
                      limits, logger)
