"""Live nodes: cardsim's issuer and hub as network services speaking ISO 8583 (1987 layout) over
TCP, and replay and conformance checks against any node that speaks the protocol
(docs/protocol.md, docs/replay.md). Every decision is the node layer's (``cardsim.model``, reached
through ``cardsim.audit.replay.Nodes``); this package only encodes, decodes and carries."""
