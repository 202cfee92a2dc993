"""Mapping files: rename a city's own export files and columns onto the data contract.

```yaml
files:
  juminhyo:
    file: JUMIN_KIHON.CSV          # the city's file name (default: juminhyo.csv)
    columns:                       # contract header: the city's header
      宛名番号: ATENA_NO
      氏名カナ: SHIMEI_KANA
```
Sources not named keep the default layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from notifier.contract import SOURCES


class MappingError(ValueError):
    pass


@dataclass(frozen=True)
class Mapping:
    files: dict[str, str] = field(default_factory=dict)                  # source → file name
    columns: dict[str, dict[str, str]] = field(default_factory=dict)     # source → {city header: contract header}

    def file_for(self, source: str) -> str:
        return self.files.get(source, SOURCES[source].file)

    def rename(self, source: str) -> dict[str, str]:
        return self.columns.get(source, {})


def load_mapping(path: Path | None) -> Mapping:
    if path is None:
        return Mapping()
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot read the mapping file: {exc}") from exc
    files, columns = {}, {}
    for source, spec in (doc.get("files") or {}).items():
        if source not in SOURCES:
            raise MappingError(f"{path}: files.{source}: unknown source (known: {', '.join(SOURCES)})")
        spec = spec or {}
        if "file" in spec:
            files[source] = str(spec["file"])
        headers = {c.header for c in SOURCES[source].columns}
        renames = {}
        for contract_header, city_header in (spec.get("columns") or {}).items():
            if contract_header not in headers:
                raise MappingError(f"{path}: files.{source}.columns.{contract_header}: "
                                   f"not a column of {SOURCES[source].file}")
            renames[str(city_header)] = contract_header
        columns[source] = renames
    return Mapping(files=files, columns=columns)
