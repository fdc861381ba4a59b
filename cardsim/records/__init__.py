"""The transaction record: its columns and codes (``record``) and the canonical bytes of
everything signed or hashed (``encoding``)."""
