"""The SQLite transaction log (``store``), its hash chain (``chain``) and the pipeline that carries
records from the simulation through the signing workers to the writer (``pipeline``), and one
run's log lifecycle (``session``)."""
