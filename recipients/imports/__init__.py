"""The CSV import of recipients, one job per module.

- `reader`: opens the file (refuses binary, picks the delimiter, decodes, counts bytes read);
- `rows`: maps the header and validates each row;
- `repeats`: the rows that repeat an earlier line (what earlier chunks claimed is in the database);
- `report`: the rejected rows, with their reasons;
- `sqlite`, `postgres`: one writer per database, with the same signature; `writers` chooses;
- `read_ahead`: parses the next chunk in a second thread while the database writes one;
- `progress`: where progress goes (the command's bar, the worker's live figures in Redis);
- `tuning`: process-wide tuning, only for processes that exist for the import;
- `summary`, `runs`, `service`: the counts, the ImportRun bookkeeping, and `recipients_import`.
"""
