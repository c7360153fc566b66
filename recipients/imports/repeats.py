"""Rows that repeat an earlier line's address or external_id, decided one chunk at a time.

A file may give an address (or an external_id) only once: the first line that gives it, and
passes every other check, claims it; a later line with the same address is rejected as a
"duplicate of line N", and one with the same external_id but another address as "also given
to" the address that claimed it. The row's own `problem` (a field over its length) is given
only when the row is not a duplicate, and such a row claims nothing.

What earlier chunks claimed is not kept in this process, where it would grow with the file
(about 20 MB per 100,000 rows): each writer keeps it in a temporary table of its database,
the "seen" table (one row per claimed address: the line and the external_id), looks up the
chunk's addresses and external ids there before `claim`, and adds the chunk's claims after
it. Memory then stays the size of a chunk whatever the size of the file. The rule itself is
applied here, in line order, because a claim depends on the claims before it (a row whose
external_id is taken claims not even its address, so a later line with that address is
not a duplicate), which is a loop, not a set-based statement.
"""

from recipients.imports.rows import Reject, Row


def claim(
    chunk: list[Row], lines: dict[str, int], owners: dict[str, str], reject: Reject
) -> list[Row]:
    """The rows of `chunk` (in line order) that claim their address; the others go to `reject`
    with their reason.

    `lines` (address → first line) and `owners` (external_id → address) hold what earlier
    chunks claimed, at least for this chunk's addresses and external ids; this chunk's claims
    are added to them."""
    claimed: list[Row] = []
    for row in chunk:
        first = lines.get(row.email)
        if first is not None:
            reject(row.line, row.raw, f"duplicate of line {first} ({row.email})")
            continue
        if row.problem is not None:
            reject(row.line, row.raw, row.problem)
            continue
        external_id = row.fields.get("external_id")
        if external_id:
            owner = owners.setdefault(external_id, row.email)
            if owner != row.email:
                reject(row.line, row.raw, f"external_id {external_id!r} is also given to {owner}")
                continue
        lines[row.email] = row.line
        claimed.append(row)
    return claimed
