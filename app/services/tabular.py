"""Reading a table the firm uploads (CSV or XLSX): a header that names the columns, then rows.

Used by every import (tax vouchers, clients). Each row comes with the line it starts on (the
header is line 1) so that a refusal can name it; cells are trimmed text. Limits are the caller's.
"""
import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _

MAX_ERRORS = 200  # errors reported by line; the count of the rest is given
XLSX_MAGIC = b"PK\x03\x04"


class TableRefused(Exception):
    """The file was refused; `errors` are "line N: message" strings (or one message for the whole file)."""

    def __init__(self, errors):
        super().__init__("; ".join(errors[:3]))
        self.errors = errors


@dataclass(frozen=True)
class TableSpec:
    """What a file must look like: its columns, limits, and what its rows are called in messages."""

    required: tuple
    optional: tuple = ()
    max_bytes: int = 1024 * 1024
    max_rows: int = 5000
    too_many: str = ""  # "The file has more than %(n)s … Split it into smaller files."
    xlsx: bool = False

    @property
    def columns(self):
        """Every column the file may name."""
        return self.required + self.optional


def line(number, message):
    """A message about one line of the file."""
    return _("line %(n)d: %(message)s", n=number, message=message)


def capped(errors):
    """At most MAX_ERRORS messages, then how many more there were."""
    if len(errors) <= MAX_ERRORS:
        return errors
    return errors[:MAX_ERRORS] + [_("… and %(n)d more problems.", n=len(errors) - MAX_ERRORS)]


def read(file_storage, spec):
    """([(line, {column: cell})], errors) of an uploaded CSV (or XLSX when the spec allows it).

    Whole-file problems (empty, too large, not text, bad header, too many rows) raise TableRefused;
    a row of the wrong length is an error of its line."""
    data = file_storage.stream.read(spec.max_bytes + 1) if file_storage else b""
    if not data:
        raise TableRefused([_("Choose a CSV file.") if not spec.xlsx else _("Choose a CSV or XLSX file.")])
    if len(data) > spec.max_bytes:
        raise TableRefused([_("The file is larger than %(size)s. Split it into smaller files.",
                              size=f"{spec.max_bytes // (1024 * 1024)} MB")])
    if spec.xlsx and data.startswith(XLSX_MAGIC):
        return _rows(_xlsx_records(data), spec, ragged=True)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableRefused([_("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")])
    if "\x00" in text:
        raise TableRefused([_("The file is not a CSV text file.")])
    return _rows(_csv_records(text), spec)


def _csv_records(text):
    """(start line, cells) of each CSV record (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    end = 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            yield start, record
    except csv.Error as exc:
        raise TableRefused([line(reader.line_num, _("the file is not valid CSV (%(why)s).", why=str(exc)))])


def _xlsx_records(data):
    """(row number, cells as text) of the first sheet of a workbook."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise TableRefused([_("The file is not a readable XLSX workbook.")])
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in values]
    finally:
        book.close()


def _cell_text(value):
    """A spreadsheet cell as the text a CSV would hold (whole numbers without ".0", dates ISO)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rows(records, spec, ragged=False):
    records = iter(records)
    first = next(records, None)
    columns = _header(first[1] if first else None, spec)
    rows, errors, count = [], [], 0
    for start, record in records:
        if ragged:  # a sheet's rows run to its widest row: empty cells past the header do not count
            while len(record) > len(columns) and not str(record[-1]).strip():
                record = record[:-1]
            record = list(record) + [""] * (len(columns) - len(record))
        if not any(str(cell).strip() for cell in record):
            continue
        count += 1
        if count > spec.max_rows:
            raise TableRefused([spec.too_many % {"n": f"{spec.max_rows:,}"}])
        if len(record) != len(columns):
            errors.append(line(start, _("expected %(want)d values, found %(got)d.", want=len(columns),
                                        got=len(record))))
            continue
        rows.append((start, {c: str(cell).strip() for c, cell in zip(columns, record)}))
    return rows, errors


def _header(header, spec):
    """The column names of the header row; refused when one is missing, unknown or repeated."""
    while header and not str(header[-1]).strip():
        header = header[:-1]
    if not header or not any(str(cell).strip() for cell in header):
        raise TableRefused([line(1, _("the header is missing. The first line names the columns: %(cols)s.",
                                      cols=", ".join(spec.columns)))])
    columns = [str(cell).strip().lower() for cell in header]
    unknown = [c for c in columns if c not in spec.columns]
    missing = [c for c in spec.required if c not in columns]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    problems = []
    if unknown:
        problems.append(_("unknown columns: %(cols)s", cols=", ".join(unknown)))
    if missing:
        problems.append(_("missing columns: %(cols)s", cols=", ".join(missing)))
    if repeated:
        problems.append(_("repeated columns: %(cols)s", cols=", ".join(repeated)))
    if problems:
        raise TableRefused([line(1, "; ".join(problems) + ".")])
    return columns
