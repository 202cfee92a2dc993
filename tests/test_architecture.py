"""The layers of docs/architecture.md hold: import-linter's contracts (pyproject.toml) are kept, and
only notifier/clock.py reads the time."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "broken" not in proc.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_only_the_clock_reads_the_time():
    pattern = re.compile(r"utcnow|datetime\.now|date\.today|time\.time\(\)")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "notifier").rglob("*.py")
                 if p.name != "clock.py" and "/line/sim/" not in p.as_posix()
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []
