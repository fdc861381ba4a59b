"""Independent verification of a log against the trust anchor (the root CA certificate) alone.

The verifier trusts ``root-ca.pem`` from the keys directory and nothing the log asserts about
itself: every certificate in the log is checked up to that root before its key is used.

Checks (each counted per record, or per checkpoint / certificate where noted):

=================  =============================================================================
``format``         every column has its type; unusable values are findings, never exceptions
``sequence``       ``seq`` is 1, 2, 3 … without gaps
``chain``          ``record_hash`` is the SHA-256 of the record's content and ``prev_hash`` is the
                   chain head before the record (record 1: the genesis hash; ``chain`` module)
``checkpoints``    per checkpoint (signed tree head): hub signature, count and head match the
                   chain, root matches the Merkle tree of the record hashes; the final
                   checkpoint covers every record
``certificates``   per CA certificate in the log: issued by the trusted root, the right subject,
                   valid over the run
``card_certificate`` the card's certificate is present, well-formed, names the card and its
                   province's issuer, and carries that issuer's valid signature
``card_validity``  the card certificate was valid at the transaction's time
``revocation``     no approval of a card by a node that held its loss report (issuer at once;
                   terminals and stand-in once the blacklist reached them: ``model.blacklist.Blacklist``)
``card_signature`` the card's signature over the recomputed ``card_tx`` message (with the run's
                   calendar start, the outcome and, online, the hash of the issuer's answer)
``issuer_signature`` online decisions carry the issuer's (stand-in: the hub's) valid signature over
                   the recomputed ``auth_response`` (bound to the card's request); offline records
                   carry none
``consistency``    the card number names the card's province, the terminal id its province and
                   merchant, and a stand-in falls in an outage of the card's issuer
``atc``            per card, the ATC rises strictly in log order (a clone or a replayed record
                   repeats or lowers it)
``terminal_certificate`` per upload: the terminal's certificate is present, well-formed, names the
                   terminal and the upload's merchant, carries that merchant's valid signature and
                   is valid at the upload
``merchant_totals`` per merchant: its signature over what its terminals uploaded to this log in
                   this period (per terminal, uploads and records), and that matches the uploads
                   the log holds
``blacklist``      per province: its issuer's signature over the province's loss reports, and the
                   count and digest match the ``blacklist`` table (the revocation check's input)
``uploads``        per upload: the terminal's signature, and the record count and records digest
                   match the records the log holds for that terminal and upload time; per record:
                   a failure when no upload holds it (``upload`` module: the batch rule); per
                   terminal, its upload numbers run 1, 2, ... without a gap
``witness``        with ``--witness STATE``: per head a witness countersigned for this log, the
                   log's tree at that size has that root (a log cut or rewritten since, or
                   another log shown under the same id, fails); a state that never saw this log
                   is one failure (``audit.witness``)
=================  =============================================================================

Records stream in ``seq`` order; memory grows with the number of cards (their last ATC and
certificate) and of uploads, not with the number of records. Signature work is split across
processes by card (``--workers``, a :class:`cardsim.workers.ShardedPool`), and the report is the
same for any number of workers.

The modules, in the order a reader meets them:

- ``findings``     :class:`Finding`, :class:`Tally` and :class:`Report`
- ``coordinator``  :func:`verify`: reads the log once; sequence and chain links; hands each
                   record and its link to the workers
- ``records``      :class:`RecordChecker`, the per-record checks the workers run (also the
                   merchant's checks in replay)
- ``uploads``      terminal certificates, uploads and merchant totals
- ``anchors``      the CA layer, checkpoints and signed loss reports
- ``primitives``   signature checks, keys and certificate bodies as the log holds them
"""

from cardsim.audit.verify.anchors import check_ca_layer, record_context
from cardsim.audit.verify.coordinator import BATCH, verify
from cardsim.audit.verify.findings import CHECKS, MAX_FINDINGS, Finding, Report, Tally
from cardsim.audit.verify.records import Context, RecordChecker

__all__ = ["BATCH", "CHECKS", "MAX_FINDINGS", "Context", "Finding", "RecordChecker", "Report",
           "Tally", "check_ca_layer", "record_context", "verify"]
