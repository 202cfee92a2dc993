"""Typed criterion parameters (パラメータ): validation, canonical form, dated values and labels.

A numeric parameter may be **dated** (OpenFisca style): a mapping from start date to value, e.g.
`base: {2025-04-01: 1000000, 2026-04-01: 1050000}`; the value in force on the as-of date is used.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

KINDS = ("int", "yen", "bool", "choice", "choices", "ints", "text", "texts")


class ParamError(ValueError):
    """A parameter value that does not fit its declaration (message in Japanese and English)."""


def parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ParamError(f"日付 (YYYY-MM-DD) が必要です / expected a date YYYY-MM-DD, got {value!r}")


@dataclass(frozen=True)
class Param:
    """One named parameter of a criterion."""

    name: str
    kind: str
    label: str                       # Japanese label for staff screens
    default: Any
    choices: tuple = ()
    choice_labels: dict = field(default_factory=dict)
    min: int | None = None
    max: int | None = None
    help: str = ""

    def __post_init__(self):
        assert self.kind in KINDS, self.kind

    @property
    def datable(self) -> bool:
        return self.kind in ("int", "yen")

    def check(self, value: Any) -> Any:
        """The canonical form of value, or ParamError. Dated values become {"YYYY-MM-DD": v}."""
        if isinstance(value, dict):
            if not self.datable:
                raise ParamError("日付別の値は数値パラメータだけに使えます / dated values are only "
                                 "allowed for numeric parameters, got a mapping")
            if not value:
                raise ParamError("日付別の値が空です / empty dated value")
            out = {}
            for k, v in value.items():
                out[parse_date(k).isoformat()] = self._scalar(v)
            return dict(sorted(out.items()))
        return self._scalar(value)

    def _int(self, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise ParamError(f"整数が必要です / expected an integer, got {v!r}")
        lo = 0 if self.kind == "yen" and self.min is None else self.min
        if lo is not None and v < lo:
            raise ParamError(f"{lo} 以上が必要です / must be ≥ {lo}, got {v}")
        if self.max is not None and v > self.max:
            raise ParamError(f"{self.max} 以下が必要です / must be ≤ {self.max}, got {v}")
        return v

    def _choice(self, v: Any) -> str:
        if not isinstance(v, str) or v not in self.choices:
            raise ParamError(f"次のいずれかが必要です / expected one of {list(self.choices)}, got {v!r}")
        return v

    def _text(self, v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise ParamError(f"文字列が必要です / expected a non-empty string, got {v!r}")
        return v.strip()

    def _list(self, v: Any) -> list:
        if isinstance(v, (str, bytes, dict)) or not isinstance(v, (list, tuple)):
            raise ParamError(f"リストが必要です / expected a list, got {v!r}")
        return list(v)

    def _scalar(self, v: Any) -> Any:
        k = self.kind
        if k in ("int", "yen"):
            return self._int(v)
        if k == "bool":
            if not isinstance(v, bool):
                raise ParamError(f"true / false が必要です / expected true or false, got {v!r}")
            return v
        if k == "choice":
            return self._choice(v)
        if k == "text":
            return self._text(v)
        items = self._list(v)
        if k == "choices":
            got = {self._choice(x) for x in items}
            return [c for c in self.choices if c in got]          # declared order, no duplicates
        if k == "ints":
            return sorted({self._int(x) for x in items})
        return sorted({self._text(x) for x in items})              # texts

    def resolve(self, value: Any, as_of: dt.date) -> Any:
        """The value in force on as_of (dated values: the latest start ≤ as_of)."""
        if not isinstance(value, dict):
            return value
        chosen = None
        for start, v in value.items():
            if dt.date.fromisoformat(start) <= as_of:
                chosen = v
        if chosen is None:
            raise ParamError(f"{as_of} に有効な値がありません / no value in force on {as_of} "
                             f"(first starts {min(value)})")
        return chosen

    def show(self, value: Any) -> str:
        """Value as staff read it (yen with separators, choices by label)."""
        if isinstance(value, dict):
            return "、".join(f"{d}から {self.show(v)}" for d, v in value.items())
        if self.kind == "yen":
            return f"{value:,}円"
        if self.kind == "bool":
            return "はい" if value else "いいえ"
        if isinstance(value, list):
            return "・".join(str(self.choice_labels.get(x, x)) for x in value) if value else "（指定なし）"
        return str(self.choice_labels.get(value, value))

    def describe(self) -> dict:
        """JSON-able declaration, for the rule editor form."""
        return {"name": self.name, "kind": self.kind, "label": self.label, "default": self.default,
                "choices": list(self.choices),
                "choice_labels": {str(k): v for k, v in self.choice_labels.items()},
                "min": self.min, "max": self.max, "help": self.help, "datable": self.datable}
