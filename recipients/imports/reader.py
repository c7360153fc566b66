"""Opening an uploaded CSV file: refuse what is not text, pick the delimiter, decode, count.

The file is given in binary mode and read through a 64 KB buffer, never whole. Its opening
bytes decide whether it is a CSV file at all (spreadsheets, PDFs and images are refused by
their signatures, UTF-16 and NUL bytes as binary) and which delimiter its header uses. Every
byte read is reported (for progress), and a decoding or CSV error anywhere in the file becomes
an ImportFileError that names the line.

A record that spans lines (a field holding a line break, which is how a quote left open
shows: the next lines are read into that field) is never passed on: it is rejected with the
lines it covers, so two people are never merged into one. One that runs to the end of the file
is an error for the file, since the people on the swallowed lines are not in any row.
"""

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from recipients.exceptions import ImportFileError

Reject = Callable[[int, list[str], str], None]  # (line, the row as given, reason)

# The opening bytes of files people upload by mistake instead of a CSV export.
BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx or .ods spreadsheet?)",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word document",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
HEAD_BYTES = 4096  # what the checks and the delimiter sniffing look at
BUFFER_BYTES = 1 << 16


class CsvReader:
    """The lines of a CSV file: `header()` first, then iterate for (line number, fields).

    Records that span lines go to `reject` (line, fields, reason) instead of the iteration."""

    def __init__(
        self,
        file: BinaryIO,
        encoding: str,
        on_bytes: Callable[[int], Any],
        reject: Reject | None = None,
    ) -> None:
        buffered = io.BufferedReader(_CountingReader(file, on_bytes), buffer_size=BUFFER_BYTES)
        head = buffered.peek(HEAD_BYTES)[:HEAD_BYTES]
        refuse_binary(head)
        text = io.TextIOWrapper(buffered, encoding=encoding, newline="", errors="strict")
        self.encoding = encoding
        self.line = 1  # the last line read, for error messages
        self._reader = csv.reader(text, dialect=_dialect(head))
        self._reject = reject or (lambda line, raw, reason: None)

    def header(self) -> list[str]:
        """The first row ([] for an empty file)."""
        try:
            header = next(self._reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise self._file_error(exc) from None
        self.line = self._reader.line_num
        if header and self.line > 1:
            raise ImportFileError(
                f"The header row runs over lines 1 to {self.line}: one of its names holds a "
                "line break, or a quote in it is never closed."
            )
        return header or []

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of every line after the header that is not blank."""
        reader = self._reader
        last = self.line  # the line the previous record ended on
        try:
            for raw in reader:
                line = reader.line_num
                if line != last + 1:
                    # csv counts every line it reads, so a record that ended more than one
                    # line after the previous one holds a line break inside a quoted field.
                    raw, line = self._skip_spanning(raw, first=last + 1, end=line)
                last = line
                if not raw or (len(raw) == 1 and not raw[0].strip()):
                    continue  # blank line
                yield line, raw
        except (UnicodeDecodeError, csv.Error) as exc:
            self.line = reader.line_num
            raise self._file_error(exc) from None
        self.line = last

    def _skip_spanning(self, raw: list[str], first: int, end: int) -> tuple[list[str], int]:
        """Reject the record (raw, from line `first` to `end`) and any spanning ones right
        after it; return the next record on one line. A record that runs to the end of the
        file is an error for the file: the rows its quote swallowed are in no row at all."""
        while True:
            following = next(self._reader, None)
            if following is None:
                self.line = end
                raise ImportFileError(
                    f"The row that starts on line {first} runs to the end of the file "
                    f"(line {end}) inside one quoted field: a quote on line {first} is "
                    "probably never closed, so the rows after it were read as part of it. "
                    "Close the quote (or remove the line break from the field)."
                )
            self._reject_spanning(first, raw, end)
            raw, first, end = following, end + 1, self._reader.line_num
            if end == first:
                return raw, end

    def _reject_spanning(self, first: int, raw: list[str], end: int) -> None:
        swallowed = f"Line {end} was" if end == first + 1 else f"Lines {first + 1} to {end} were"
        self._reject(
            first,
            raw,
            f"a field holds a line break, so this row runs from line {first} to line {end} "
            f"(a quote left open?). {swallowed} read into it, not imported on their own: "
            "close the quote and import them again",
        )

    def _file_error(self, exc: UnicodeDecodeError | csv.Error) -> ImportFileError:
        if isinstance(exc, UnicodeDecodeError):
            return ImportFileError(encoding_error(exc, self.encoding, self.line))
        return ImportFileError(f"The file is not a valid CSV file (near line {self.line}: {exc}).")


class _CountingReader(io.RawIOBase):
    """A raw stream over `file` that reports how many bytes were read (for progress)."""

    def __init__(self, file: BinaryIO, on_bytes: Callable[[int], Any]) -> None:
        self.file, self.on_bytes = file, on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.file.read(len(buffer))
        if isinstance(data, str):
            raise ImportFileError("The file must be opened in binary mode.")
        n = len(data)
        buffer[:n] = data
        self.on_bytes(n)
        return n

    def close(self) -> None:  # the caller owns the file
        pass


def refuse_binary(head: bytes) -> None:
    """Raise ImportFileError if the file's opening bytes are not those of a text file."""
    if head.startswith(UTF16_BOMS):
        raise ImportFileError(
            'The file is UTF-16 (Excel\'s "Unicode Text"); save it as "CSV UTF-8" instead.'
        )
    for signature, kind in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise ImportFileError(f"The file is not a CSV file: it is {kind}. Export it as CSV.")
    if b"\x00" in head:
        raise ImportFileError("The file is not a CSV file: it contains binary data (NUL bytes).")


def _dialect(head: bytes) -> type[csv.Dialect]:
    """Comma, semicolon (spreadsheets in many locales) or tab, whichever the header uses most."""
    first_line = head.split(b"\n", 1)[0]
    delimiter = max(b",;\t", key=first_line.count)
    if delimiter == ord(";"):

        class Semicolon(csv.excel):
            delimiter = ";"

        return Semicolon
    return csv.excel_tab if delimiter == ord("\t") else csv.excel


def encoding_error(exc: UnicodeDecodeError, encoding: str, line: int) -> str:
    name = "UTF-8" if encoding.replace("_", "-").lower().startswith("utf-8") else encoding
    byte = exc.object[exc.start : exc.start + 1].hex()
    return (
        f"The file is not valid {name}: byte 0x{byte} near line {line + 1} cannot be decoded. "
        'Save it as UTF-8 (Excel: "CSV UTF-8") or give its encoding (e.g. --encoding cp1252).'
    )


def file_size(file: BinaryIO) -> int | None:
    """The bytes left to read in `file`, if it can tell (an upload's size, or by seeking)."""
    size = getattr(file, "size", None)
    if isinstance(size, int):
        return size
    try:
        position = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(position)
        return end - position
    except (AttributeError, OSError, ValueError):
        return None
