"""Channels: the table of values that flows between processes (rows = jobs, named columns).

A process's output channel has one row per job and one column per output; the next process takes its
input columns from it. Build one by hand with :meth:`Channel.create`, or from files with
:meth:`Channel.from_glob` and :meth:`Channel.from_pairs`.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .errors import SpecError

__all__ = ["Channel"]


def _is_dataframe(obj: object) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "itertuples")


class Channel:
    """An immutable table: ``len(ch)`` rows, each a tuple with one value per column.

    Args:
        columns: The column names.
        rows: The rows; each must have ``len(columns)`` values.

    Raises:
        SpecError: If a row has the wrong number of values or a column name repeats.
    """

    __slots__ = ("_columns", "_rows")

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]] = ()) -> None:
        cols = tuple(str(c) for c in columns)
        if len(set(cols)) != len(cols):
            raise SpecError(f"channel column names repeat: {list(cols)}")
        width = len(cols)
        out: list[tuple[Any, ...]] = []
        for i, row in enumerate(rows):
            tup = tuple(row)
            if len(tup) != width:
                raise SpecError(
                    f"channel row {i} has {len(tup)} values but there are {width} columns {list(cols)}"
                )
            out.append(tup)
        self._columns = cols
        self._rows = tuple(out)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def create(cls, data: Any) -> Channel:
        """Build a channel from any accepted ``input_data`` form.

        Accepts a :class:`Channel`, a list of values (one column), a list of tuples or lists (rows),
        a dict of equal-length columns, or a pandas DataFrame.

        Raises:
            SpecError: For columns of unequal length or a value of another kind.
        """
        if isinstance(data, Channel):
            return data
        if _is_dataframe(data):
            return cls.from_pandas(data)
        if isinstance(data, Mapping):
            return cls.from_columns(data)
        if isinstance(data, (str, bytes)) or not isinstance(data, (Sequence, Iterator)):
            raise SpecError(
                f"input_data must be a list, a list of tuples, a dict of columns, a Channel, "
                f"a DataFrame or a function of the upstream channels; got {type(data).__name__}",
                hint="wrap a single value in a list: input_data = [value]",
            )
        items = list(data)
        if not items:
            return cls(["0"], [])
        if all(isinstance(x, (tuple, list)) for x in items):
            width = len(items[0])
            if any(len(x) != width for x in items):
                raise SpecError(
                    f"input_data rows have different lengths: {sorted({len(x) for x in items})}",
                    hint="give every row the same number of values",
                )
            return cls([str(i) for i in range(width)], items)
        return cls(["0"], [(x,) for x in items])

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[Any]]) -> Channel:
        """Build a channel from a dict of equal-length columns.

        Raises:
            SpecError: If the columns have different lengths.
        """
        names = list(columns)
        values = [list(columns[n]) if not isinstance(columns[n], str) else [columns[n]] for n in names]
        lengths = {n: len(v) for n, v in zip(names, values, strict=True)}
        if len(set(lengths.values())) > 1:
            raise SpecError(
                f"input_data columns have unequal lengths: {lengths}",
                hint="give every column the same number of values (one per job)",
            )
        return cls(names, list(zip(*values, strict=True)) if values else [])

    @classmethod
    def from_pandas(cls, df: Any) -> Channel:
        """Build a channel from a pandas DataFrame (column names become channel columns)."""
        return cls([str(c) for c in df.columns], [tuple(r) for r in df.itertuples(index=False)])

    @classmethod
    def from_glob(cls, pattern: str, *, column: str = "file", sort: bool = True) -> Channel:
        """One row per path matching ``pattern`` (local or cloud, e.g. ``gs://b/data/*.fq``).

        Raises:
            SpecError: If nothing matches, since a run with no jobs is almost always a mistake. Called
                in a class body (``input_data = Channel.from_glob(...)``) or in the body of the script
                being run, the channel raises it when it is used instead: the run reports it, naming
                the process, before anything runs.
        """
        from . import paths

        found = paths.glob(pattern)
        if sort:
            found = sorted(found)
        if not found:
            return _failed(SpecError(f"no file matches {pattern!r}", hint="check the pattern and the cwd"))
        return cls([column], [(f,) for f in found])

    @classmethod
    def from_pairs(
        cls,
        pattern: str,
        *,
        columns: tuple[str, str] = ("read1", "read2"),
        marks: tuple[str, str] = ("1", "2"),
    ) -> Channel:
        """Pair files that differ only in one mark (``x_R1.fq``/``x_R2.fq``): one row per pair.

        Args:
            pattern: A glob matching both files of every pair.
            columns: The names of the two columns.
            marks: The characters that differ between the two files of a pair.

        Raises:
            SpecError: If a file has no partner, or nothing matches (in a class body: when the channel
                is used, as with :meth:`from_glob`).
        """
        from . import paths

        files = sorted(paths.glob(pattern))
        first = [f for f in files if _mark_pos(f, marks[0], marks[1]) is not None]
        rest = set(files) - set(first)
        rows = []
        for f in first:
            pos = _mark_pos(f, marks[0], marks[1])
            assert pos is not None
            mate = f[:pos] + marks[1] + f[pos + 1 :]
            if mate not in rest:
                return _failed(SpecError(f"{f!r} has no pair {mate!r}", hint=f"pattern {pattern!r}"))
            rest.discard(mate)
            rows.append((f, mate))
        if rest:
            return _failed(SpecError(f"unpaired files for {pattern!r}: {sorted(rest)[:5]}"))
        if not rows:
            return _failed(SpecError(f"no file pairs match {pattern!r}", hint="check the pattern"))
        return cls(columns, rows)

    # -- access ---------------------------------------------------------------------------------
    @property
    def columns(self) -> tuple[str, ...]:
        """The column names."""
        return self._columns

    @property
    def rows(self) -> tuple[tuple[Any, ...], ...]:
        """The rows, as tuples."""
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Channel):
            return NotImplemented
        return self._columns == other._columns and self._rows == other._rows

    def __hash__(self) -> int:
        return hash((self._columns, self._rows))

    def __repr__(self) -> str:
        return f"Channel(columns={list(self._columns)}, rows={len(self._rows)})"

    def column(self, key: str | int) -> list[Any]:
        """Return one column's values, by name or position.

        Raises:
            SpecError: If there is no such column.
        """
        idx = self._index(key)
        return [row[idx] for row in self._rows]

    def _index(self, key: str | int) -> int:
        if isinstance(key, int):
            if -len(self._columns) <= key < len(self._columns):
                return key % len(self._columns)
        elif key in self._columns:
            return self._columns.index(key)
        raise SpecError(
            f"channel has no column {key!r}; its columns are {list(self._columns)}",
            hint="use one of those names, or a position",
        )

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column name."""
        return [dict(zip(self._columns, row, strict=True)) for row in self._rows]

    def to_pandas(self) -> Any:
        """Return a pandas DataFrame of the channel (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(list(self._rows), columns=list(self._columns))

    # -- transformation -------------------------------------------------------------------------
    def select(self, *keys: str | int) -> Channel:
        """A channel with only the given columns, in that order."""
        idx = [self._index(k) for k in keys]
        return Channel([self._columns[i] for i in idx], [[r[i] for i in idx] for r in self._rows])

    def rename(self, **names: str) -> Channel:
        """A channel with columns renamed: ``ch.rename(old="new")``."""
        return Channel([names.get(c, c) for c in self._columns], self._rows)

    def cbind(self, *others: Channel) -> Channel:
        """Join channels side by side; a one-row channel is repeated to match the others.

        Raises:
            SpecError: If the row counts differ (and none is 1) or column names repeat.
        """
        chans = [self, *others]
        counts = {len(c) for c in chans if len(c) != 1}
        if len(counts) > 1:
            raise SpecError(
                f"cannot join channels side by side with {[len(c) for c in chans]} rows",
                hint="give every upstream the same number of jobs, or use input_data to combine them",
            )
        n = counts.pop() if counts else (1 if any(len(c) for c in chans) else 0)
        columns: list[str] = []
        for c in chans:
            for name in c.columns:
                columns.append(name if name not in columns else f"{name}_{len(columns)}")
        rows = []
        for i in range(n):
            row: list[Any] = []
            for c in chans:
                if len(c):
                    row.extend(c.rows[i if len(c) > 1 else 0])
                else:
                    row.extend([None] * len(c.columns))
            rows.append(row)
        return Channel(columns, rows)

    def rbind(self, *others: Channel) -> Channel:
        """Stack channels with the same number of columns (this channel's names are kept).

        Raises:
            SpecError: If the column counts differ.
        """
        rows = list(self._rows)
        for other in others:
            if len(other.columns) != len(self._columns):
                raise SpecError(
                    f"cannot stack a channel of {len(other.columns)} columns under one of "
                    f"{len(self._columns)}"
                )
            rows.extend(other.rows)
        return Channel(self._columns, rows)

    def expand_dir(self, key: str | int = 0, *, pattern: str = "*") -> Channel:
        """Replace each directory in a column by the files in it matching ``pattern``: one row per file."""
        from . import paths

        idx = self._index(key)
        rows = []
        for row in self._rows:
            for f in sorted(paths.glob(paths.join(str(row[idx]), pattern))):
                rows.append((*row[:idx], f, *row[idx + 1 :]))
        return Channel(self._columns, rows)

    def collapse_files(self, key: str | int = 0) -> Channel:
        """Collapse a column of files into one row holding their common parent directory."""
        idx = self._index(key)
        files = [str(r[idx]) for r in self._rows]
        if not files:
            return Channel(self._columns, [])
        parent = (
            os.path.commonpath([os.path.dirname(f) or "." for f in files])
            if not any("://" in f for f in files)
            else _common_url_parent(files)
        )
        first = self._rows[0]
        return Channel(self._columns, [(*first[:idx], parent, *first[idx + 1 :])])


class _Failed(Channel):
    """What :meth:`Channel.from_glob` and :meth:`Channel.from_pairs` return when they fail while a
    pipeline file is read (see :func:`_failed`): a channel that raises their error when it is used.
    """

    __slots__ = ("_error",)

    def __init__(self, error: SpecError) -> None:  # no rows to store: every use raises the error
        self._error = error

    @property
    def _columns(self) -> tuple[str, ...]:  # type: ignore[override]
        raise self._error.within()

    @property
    def _rows(self) -> tuple[tuple[Any, ...], ...]:  # type: ignore[override]
        raise self._error.within()

    def __repr__(self) -> str:
        return f"Channel(failed: {self._error})"


def _failed(error: SpecError) -> Channel:
    """Raise ``error``, unless the caller was called in a class body or in the body of the script being
    run (``python pipeline.py``): then return a channel that raises it when it is used.

    Raised there, the error would reach Python's own handler, which prints a traceback before any code
    of pipework could catch it. Deferred, it is raised when the run reads the process's ``input_data``,
    names the process, and ``main()`` prints it as one line. Called anywhere else (a function, an
    imported module, ``pipework run``'s loader), it is raised at once.
    """
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    if caller is None:
        raise error
    names = caller.f_locals
    in_class_body = "__qualname__" in names and "__module__" in names
    in_script_body = caller.f_code.co_name == "<module>" and caller.f_globals.get("__name__") == "__main__"
    if in_class_body or in_script_body:
        return _Failed(error)
    raise error


def _mark_pos(path: str, mark1: str, mark2: str) -> int | None:
    """Position of ``mark1`` in the file name when it is the last standalone mark (not part of a number)."""
    base = path.rfind("/") + 1
    name = path[base:]
    for pos in range(len(name) - 1, -1, -1):
        if name[pos] not in (mark1, mark2):
            continue
        if (pos > 0 and name[pos - 1].isdigit()) or (pos + 1 < len(name) and name[pos + 1].isdigit()):
            continue
        return base + pos if name[pos] == mark1 else None
    return None


def _common_url_parent(urls: list[str]) -> str:
    parents = [u.rsplit("/", 1)[0] for u in urls]
    common = parents[0]
    for p in parents[1:]:
        while not (p == common or p.startswith(common + "/")):
            common = common.rsplit("/", 1)[0]
    return common
