"""The observed data, once: the calibration table's path, reading it, its periods and
values, and which rows are weak.

The table (model/data/calibration.csv, from ../shared/data) has the columns
quantity, entity, period, value, unit, source, note. Everything that reads it goes
through here: validation and calibration (`read_data`, `quarters_of`, `parse_value`,
`is_weak`) and the notebooks' plots (`load_observed`, `period_year`). Nothing here
runs the model.

A **weak** row is one that is not a firm observation of a realised value: its note,
unit or quantity says it is weak, approximate, conflicting, unknown, a plan, a
target, guidance or an estimate (`WEAK`). Calibration fits only to rows that are not
weak (`hard_target` in validation's table); the notebooks draw weak rows apart. This
is the one definition: before, the plotting loader looked at the note alone, for
four of these eight words, and called fewer rows weak than calibration did.
"""

from __future__ import annotations

import calendar
import io
import re
from pathlib import Path

import pandas as pd

from model.technology import mid_quarter_year
from model.world import DATA_DIR

DATA_FILE = DATA_DIR / "calibration.csv"
COLUMNS = ["quantity", "entity", "period", "value", "unit", "source", "note"]
WEAK = re.compile(r"weak|approx|conflict|unknown|plan|target|guidance|estimate", re.I)
"""Words that mark a row as weak, searched in its note, unit and quantity (`is_weak`)."""


class DataFileError(ValueError):
    """A data file that is not a calibration table; the message names file and field."""


def is_weak(row) -> bool:
    """Whether a data row (a mapping with note, unit and quantity) is weak: not a firm
    observation of a realised value (`WEAK` in its note, unit or quantity)."""
    return bool(WEAK.search(f"{row['note']} {row['unit']} {row['quantity']}"))


def weak_rows(frame: pd.DataFrame) -> pd.Series:
    """`is_weak` of every row of a data frame, as a boolean Series."""
    text = frame["note"].astype(str) + " " + frame["unit"].astype(str) + " " + frame["quantity"].astype(str)
    return text.str.contains(WEAK)


# ------------------------------------------------------------------------ periods
def quarters_of(period: str) -> list[str] | None:
    """The quarters a period label covers ('2023' -> four, '2022H2' -> two, '2024-09'
    -> one, '2021 end' -> Q4, '2021 (mid)' -> Q2,Q3, 'c.2024' -> four); None if the
    label names no time the model can place, including labels that look like a quarter,
    half or month but are not one ('2022Q7', '2022Q0', '2022H3', '2024-13', '2024-02-31'):
    those are never read as their whole year."""
    text = str(period).strip()
    if re.fullmatch(r"\d{4}Q[1-4]", text):
        return [text]
    match = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", text)
    if match:
        year, month, day = int(match.group(1)), int(match.group(2)), match.group(3)
        if not 1 <= month <= 12 or (day and not 1 <= int(day) <= calendar.monthrange(year, month)[1]):
            return None
        return [f"{match.group(1)}Q{(month - 1) // 3 + 1}"]
    match = re.fullmatch(r"(\d{4})H([12])", text)
    if match:
        first = 1 if match.group(2) == "1" else 3
        return [f"{match.group(1)}Q{first}", f"{match.group(1)}Q{first + 1}"]
    match = re.fullmatch(r"(?:c\.|FY)?(\d{4})(.*)", text)
    if match and re.match(r"[QqHh]\d|-\d", match.group(2)):
        return None  # a malformed quarter, half or month: not the whole year
    if match and not match.group(2).strip().startswith(("-", "/")):
        year, rest = match.group(1), match.group(2).lower()
        if "end" in rest:
            return [f"{year}Q4"]
        if "mid" in rest:
            return [f"{year}Q2", f"{year}Q3"]
        return [f"{year}Q{q}" for q in range(1, 5)]
    return None


def parse_value(value: str) -> tuple[float | None, str]:
    """'<50' -> (50, '<'); '>40' -> (40, '>'); '56.1' -> (56.1, '='); else (None, '').
    Only plain decimal numbers count: 'inf', 'nan', '1e400' and words give (None, '')."""
    text = str(value).replace(",", "").strip()
    match = re.fullmatch(r"([<>]?)\s*(-?\d+(?:\.\d+)?)", text)
    if not match:
        return None, ""
    return float(match.group(2)), match.group(1) or "="


def read_data(path: str | Path = DATA_FILE) -> pd.DataFrame:
    """Read a calibration table; raise DataFileError naming the file and what is missing.

    Guarantees a UTF-8 CSV with the columns `COLUMNS` and at least one usable row (a
    value that parses as a number, `parse_value`, and a period the model can place,
    `quarters_of`); an unreadable, empty, header-only, binary or non-UTF-8 file, or one
    with no usable row, raises. Rows whose period and value both hold 'a -> b' are
    split into two observations.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")  # small files; decoding first catches binary ones
        data = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 text ({exc.reason}); expected a UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path}: the file is empty; expected a CSV with columns {COLUMNS}") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # pandas' ParserError is a ValueError
        raise DataFileError(f"{path}: cannot be read as CSV ({' '.join(str(exc).split())})") from None
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing:
        raise DataFileError(f"{path}: field '{missing[0]}' is missing; expected columns {COLUMNS}")
    rows = []
    for _, row in data.iterrows():
        if "->" in row["period"] and "->" in row["value"]:
            for period, value in zip(row["period"].split("->"), row["value"].split("->")):
                rows.append({**row, "period": period.strip(), "value": value.strip()})
        else:
            rows.append(dict(row))
    if not any(parse_value(r["value"])[0] is not None and quarters_of(r["period"]) for r in rows):
        raise DataFileError(
            f"{path}: no usable row ({len(data)} rows); expected at least one row with a numeric "
            "'value' (such as 56.1 or <50) and a 'period' the model can place (such as 2023Q4, 2023, 2022H2)"
        )
    return pd.DataFrame(rows, columns=COLUMNS)


# ------------------------------------------------------------------- for plots
def period_year(period: str) -> float | None:
    """A data period's middle as a decimal year: 2023Q4, 2023, 2024-09, 2022H2, '2021
    (mid)', '2025 end'; None for a period that names no date (ranges, 'c.', plans)."""
    text = str(period).strip()
    if re.fullmatch(r"\d{4}Q[1-4]", text):
        return mid_quarter_year(text)
    if match := re.fullmatch(r"(\d{4})-(\d{2})", text):
        return int(match.group(1)) + (int(match.group(2)) - 0.5) / 12
    if match := re.fullmatch(r"(\d{4})H([12])", text):
        return int(match.group(1)) + (0.25 if match.group(2) == "1" else 0.75)
    if match := re.fullmatch(r"(\d{4})\s*\(mid\)", text):
        return int(match.group(1)) + 0.5
    if match := re.fullmatch(r"(\d{4})\s+end", text):
        return int(match.group(1)) + 0.875
    if re.fullmatch(r"\d{4}", text):
        return int(text) + 0.5
    return None


def load_observed(path: str | Path | None = None) -> pd.DataFrame:
    """The published figures (model/data/calibration.csv unless told), for plotting.

    Adds `number` (the value as a float; NaN for '<50', ranges or text), `year` (the
    period's middle as a decimal year; NaN when the period is not a date) and `weak`
    (`is_weak`: not a firm observation of a realised value).
    """
    frame = pd.read_csv(path or DATA_FILE, dtype=str, keep_default_na=False)
    frame["number"] = pd.to_numeric(frame["value"].str.replace(",", ""), errors="coerce")
    frame["year"] = [period_year(p) for p in frame["period"]]
    frame["year"] = frame["year"].astype(float)
    frame["weak"] = weak_rows(frame)
    return frame
