"""The SimPy model: cards and holders, fares, demand and demand sources, service points, the nodes
(issuer, merchant, hub; built together by ``nodes``) with every decision step, streaming
statistics, and the run summary."""
