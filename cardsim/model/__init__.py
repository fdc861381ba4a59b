"""The SimPy model: cards and holders, fares, demand, service points, the nodes (issuer, merchant,
hub) with their decision rules, streaming statistics, and the run summary."""
