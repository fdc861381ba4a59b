"""Reading logs back: independent verification, replay against nodes, and the trace-driven what-if."""
