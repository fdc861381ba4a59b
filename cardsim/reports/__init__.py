"""Reports: self-contained HTML (``html``) and terminal text (``text``)."""
