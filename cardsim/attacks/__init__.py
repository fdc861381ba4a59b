"""Attack injection with ground truth, for testing verification. Only ``cardsim.api`` plugs it in."""
