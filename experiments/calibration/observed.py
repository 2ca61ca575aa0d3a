"""The observed data, once: the data tables' paths, reading them, their periods and
values, and which rows are weak.

The project keeps two tables, copies of ../shared/data: model/data/calibration.csv
(foundries, SMIC, equipment, policy figures; `DATA_FILE`) and model/data/accelerators.csv
(the accelerator chain: HBM, CoWoS-class packaging, accelerators and their market;
`ACCELERATORS_FILE`). Both have the columns quantity, entity, period, value, unit,
source, note. `DATA_FILE` stands for the project's data as a whole (`data_files`): the
CLI's default, validation reads both tables for it; any other path is read alone.
Everything that reads the tables goes through here: validation and calibration
(`read_data`, `read_tables`, `quarters_of`, `parse_value`, `parse_range`, `is_weak`; a
firm's fiscal periods, `fiscal_quarters`, and a remark's loose dates, `remark_quarters`,
for the rows whose comparison reads them so) and the notebooks' plots (`load_observed`,
`period_year`). Nothing here runs the model.

Values: a number ('56.1', '1,234'), a bound ('<50', '>65000'), a range ('35000-40000':
both ends, `parse_range`; its middle is the value) or text (a milestone, a status: no
number). A row whose entity and value both list several items ('SK hynix / Samsung /
Micron', '56 / 26 / 18') is one observation per item, as a row whose period and value
both hold 'a -> b' is two.

A **weak** row is one that is not a firm observation of a realised value: its note,
unit, quantity or period says it is weak, approximate, conflicting, unknown, a plan, a
target, guidance, an estimate, a forecast, contested, rhetorical or derived from other
figures (`WEAK`; ../shared/data/README.md: "derived" rows were computed from other figures,
"weak" or "CONFLICT" rows are not hard targets). Calibration fits only to rows that are
not weak (`hard_target` in validation's table); the notebooks draw weak rows apart. This
is the one definition: before, the plotting loader looked at the note alone, for
four of these words, and called fewer rows weak than calibration did.
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
ACCELERATORS_FILE = DATA_DIR / "accelerators.csv"
PROJECT_FILES = (DATA_FILE, ACCELERATORS_FILE)
"""The project's data: what `DATA_FILE` stands for in validation (`data_files`)."""
COLUMNS = ["quantity", "entity", "period", "value", "unit", "source", "note"]
WEAK = re.compile(r"\bweak\b|approx|conflict|contested|rhetorical|unknown|plan|target|guidance|estimate|forecast"
                  r"|derived", re.I)
"""Words that mark a row as weak, searched in its note, unit, quantity and period
(`is_weak`): '2024 (forecast made 2023)' and '2022 (plan)' name their kind in the period."""


class DataFileError(ValueError):
    """A data file that is not a calibration table; the message names file and field."""


def is_weak(row) -> bool:
    """Whether a data row (a mapping with note, unit, quantity and period) is weak: not a
    firm observation of a realised value (`WEAK` in its note, unit, quantity or period)."""
    return bool(WEAK.search(f"{row['note']} {row['unit']} {row['quantity']} {row['period']}"))


def weak_rows(frame: pd.DataFrame) -> pd.Series:
    """`is_weak` of every row of a data frame, as a boolean Series."""
    text = (frame["note"].astype(str) + " " + frame["unit"].astype(str) + " " + frame["quantity"].astype(str)
            + " " + frame["period"].astype(str))
    return text.str.contains(WEAK)


# ------------------------------------------------------------------------ periods
def quarters_of(period: str) -> list[str] | None:
    """The quarters a period label covers ('2023' -> four, '2022H2' -> two, '2024-09'
    -> one, '2021 end' -> Q4, '2021 (mid)' -> Q2,Q3, 'c.2024' and 'FY2023' -> four,
    '2024 (forecast made 2023)' -> four); None if the label names no time the model can
    place, including labels that look like a quarter, half or month but are not one
    ('2022Q7', '2022Q0', '2022H3', '2024-13', '2024-02-31', '2025 Q1 FY26'), spans of years
    ('c.2022-2024') and fiscal years with their months or quarters ('FY2024 (Feb23-Jan24)',
    'FY2024 Q1-Q3'): those are never read as a calendar year."""
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
    match = re.fullmatch(r"(c\.|FY)?(\d{4})(.*)", text)
    if match and re.match(r"\s*(?:[QqHh]\d|-\d)", match.group(3)):
        return None  # a malformed quarter, half or month, or a span of years: not the whole year
    if match and match.group(1) == "FY" and match.group(3).strip():
        return None  # a fiscal year's months or quarters ('FY2024 (Feb23-Jan24)'): not calendar quarters
    if match and not match.group(3).strip().startswith(("-", "/")):
        year, rest = match.group(2), match.group(3).lower()
        if "end" in rest:
            return [f"{year}Q4"]
        if "mid" in rest:
            return [f"{year}Q2", f"{year}Q3"]
        return [f"{year}Q{q}" for q in range(1, 5)]
    return None


MONTHS = {name: n for n, name in enumerate(calendar.month_abbr) if name}
"""'Jan' -> 1 ... 'Dec' -> 12."""


def _quarter_of_month(month: int) -> str:
    """The calendar quarter of a month counted from year 0 (year x 12 + month - 1)."""
    return f"{month // 12}Q{month % 12 // 3 + 1}"


def fiscal_quarters(period: str, year_end_month: int | None = None) -> list[str] | None:
    """The model's quarters for a fiscal period of a firm whose fiscal year ends in month
    `year_end_month` and is named by the calendar year it ends in (Nvidia: 1, FY2025 =
    Feb 2024-Jan 2025); each fiscal quarter is the calendar quarter holding its middle
    month (two of its three months): Nvidia's FY2025 -> 2024Q1-2024Q4, a month early.

    'FY2025' -> four quarters; 'FY2024 Q1-Q3' and 'FY2024 Q4' -> those fiscal quarters;
    'FY2024 (Feb23-Jan24)' -> four, if the months in brackets are that fiscal year's
    (else None: the label and the firm disagree). With no `year_end_month`, the months
    in brackets say it (None if the label names none). None for anything else ('2025 Q1
    FY26', '2024')."""
    match = re.fullmatch(r"FY(\d{4})(?:\s+Q([1-4])(?:\s*-\s*Q?([1-4]))?)?"
                         r"(?:\s*\(([A-Za-z]{3})(\d{2})\s*-\s*([A-Za-z]{3})(\d{2})\))?", str(period).strip())
    if match and year_end_month is None:
        year_end_month = MONTHS.get(match.group(6).title()) if match.group(6) else None
    if not match or year_end_month is None or not 1 <= year_end_month <= 12:
        return None
    year = int(match.group(1))
    end = year * 12 + year_end_month - 1  # the fiscal year's last month, counted from year 0
    if match.group(4):
        first, last = (MONTHS.get(match.group(i).title()) for i in (4, 6))
        if first is None or last is None:
            return None
        named = ((2000 + int(match.group(5))) * 12 + first - 1, (2000 + int(match.group(7))) * 12 + last - 1)
        if named != (end - 11, end):
            return None
    low = int(match.group(2) or 1)
    high = int(match.group(3) or match.group(2) or 4)
    if low > high:
        return None
    return [_quarter_of_month(end - 11 + 3 * (k - 1) + 1) for k in range(low, high + 1)]


def remark_quarters(period: str) -> list[str] | None:
    """The quarters of a remark's loose date: 'Oct 2025' -> its quarter (2025Q4);
    'pre-2022' -> the year before (2021Q1-2021Q4: an ASSUMPTION that 'before' means the
    last full year before); anything else as `quarters_of`."""
    text = str(period).strip()
    match = re.fullmatch(r"([A-Za-z]{3})[a-z]*\.?\s+(\d{4})", text)
    if match and match.group(1).title() in MONTHS:
        return [_quarter_of_month(int(match.group(2)) * 12 + MONTHS[match.group(1).title()] - 1)]
    match = re.fullmatch(r"pre-?\s*(\d{4})", text, re.I)
    if match:
        year = int(match.group(1)) - 1
        return [f"{year}Q{q}" for q in range(1, 5)]
    return quarters_of(text)


def parse_value(value: str) -> tuple[float | None, str]:
    """'<50' -> (50, '<'); '>40' -> (40, '>'); '56.1' -> (56.1, '='); a range
    '35000-40000' -> (37500, 'range'), its middle (`parse_range` gives its ends); else
    (None, ''). Only plain decimal numbers count: 'inf', 'nan', '1e400' and words give
    (None, '')."""
    text = str(value).replace(",", "").strip()
    match = re.fullmatch(r"([<>]?)\s*(-?\d+(?:\.\d+)?)", text)
    if match:
        return float(match.group(2)), match.group(1) or "="
    ends = parse_range(value)
    if ends is not None:
        return (ends[0] + ends[1]) / 2, "range"
    return None, ""


def parse_range(value: str) -> tuple[float, float] | None:
    """'35000-40000' -> (35000.0, 40000.0); '20 - 25' and an en dash too; None for
    anything else, for a range whose low end is above its high end and for negative
    ends (a leading '-' is a sign, not a range)."""
    text = str(value).replace(",", "").strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[-\u2013]\s*(\d+(?:\.\d+)?)", text)
    if not match:
        return None
    low, high = float(match.group(1)), float(match.group(2))
    return (low, high) if low <= high else None


def read_data(path: str | Path = DATA_FILE) -> pd.DataFrame:
    """Read a calibration table; raise DataFileError naming the file and what is missing.

    Guarantees a UTF-8 CSV with the columns `COLUMNS` and at least one usable row (a
    value that parses as a number, `parse_value`, and a period the model can place,
    `quarters_of`, or a fiscal year that names its months, `fiscal_quarters`); an
    unreadable, empty, header-only, binary or non-UTF-8 file, or one with no usable
    row, raises. Rows whose period and value both hold 'a -> b' are
    split into two observations; rows whose entity and value both list the same number
    (two or more) of items separated by ' / ', every value a number, into one
    observation per item ('SK hynix / Samsung / Micron' with '56 / 26 / 18').
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
        entities, values = row["entity"].split(" / "), row["value"].split(" / ")
        if "->" in row["period"] and "->" in row["value"]:
            for period, value in zip(row["period"].split("->"), row["value"].split("->")):
                rows.append({**row, "period": period.strip(), "value": value.strip()})
        elif 1 < len(entities) == len(values) and all(parse_value(v)[0] is not None for v in values):
            for entity, value in zip(entities, values):
                rows.append({**row, "entity": entity.strip(), "value": value.strip()})
        else:
            rows.append(dict(row))
    if not any(parse_value(r["value"])[0] is not None and (quarters_of(r["period"]) or fiscal_quarters(r["period"]))
               for r in rows):
        raise DataFileError(
            f"{path}: no usable row ({len(data)} rows); expected at least one row with a numeric "
            "'value' (such as 56.1 or <50) and a 'period' the model can place (such as 2023Q4, 2023, 2022H2)"
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def data_files(data: str | Path = DATA_FILE) -> tuple[Path, ...]:
    """The files a data argument stands for: the project's calibration table
    (`DATA_FILE`, the CLI's default) stands for the project's data, both tables
    (`PROJECT_FILES`); any other path for itself alone."""
    path = Path(data)
    return PROJECT_FILES if path.resolve() == DATA_FILE.resolve() else (path,)


def read_tables(data: str | Path = DATA_FILE) -> pd.DataFrame:
    """`read_data` of every file `data` stands for (`data_files`), one after the other,
    with a column `file` (the file's name) after `COLUMNS`."""
    return pd.concat([read_data(path).assign(file=Path(path).name) for path in data_files(data)],
                     ignore_index=True)


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
