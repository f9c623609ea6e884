"""HTML reports: `html` is the shared, self-contained page builder (escaping, inline CSS,
tables, inline SVG charts); each view renders one kind of result with it (`eval_view` for
`ftprep eval`)."""
