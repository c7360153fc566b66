"""CSV export of a list's subscribed recipients, streamed in primary-key order.

Every cell, the header's too, is escaped against spreadsheet formulas (recipients.csv_cells);
the import undoes it, so an export imports back unchanged.
"""

import csv
from collections.abc import Iterator
from typing import IO

from recipients.csv_cells import escape_value
from recipients.models import List
from recipients.selectors import export_rows

FIELDS = ["email", "first_name", "last_name", "external_id"]
CHUNK_SIZE = 2000


def recipients_export(*, list: List, out: IO[str]) -> int:
    """Write the header and one row per subscribed recipient; attribute keys become extra
    columns (the union over the list, sorted), so an export imports back unchanged."""
    keys = sorted(_attribute_keys(list))
    writer = csv.writer(out)
    writer.writerow([escape_value(name) for name in FIELDS + keys])
    count = 0
    for email, first, last, external_id, attributes in _rows(list):
        writer.writerow(
            [escape_value(email), escape_value(first), escape_value(last)]
            + [escape_value(external_id or "")]
            + [escape_value(_cell(attributes.get(key, ""))) for key in keys]
        )
        count += 1
    return count


def _rows(list: List) -> Iterator[tuple]:
    return export_rows(list).values_list(*FIELDS, "attributes").iterator(chunk_size=CHUNK_SIZE)


def _attribute_keys(list: List) -> set[str]:
    keys: set[str] = set()
    for attributes in (
        export_rows(list).values_list("attributes", flat=True).iterator(chunk_size=CHUNK_SIZE)
    ):
        keys.update(attributes)
    return keys


def _cell(value: object) -> str:
    return "" if value is None else str(value)
