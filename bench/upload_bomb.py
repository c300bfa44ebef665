"""A decompression bomb against the import: a ~3-4 MB .xlsx whose sheet XML inflates past
1 GB must be refused within 2 s and 200 MB of memory.

    uv run python bench/upload_bomb.py

The bomb is written to a temporary folder; the check runs in a fresh subprocess (the zip
guard and the workbook reader, as the upload form and the worker run them) so its peak
resident memory (`resource.getrusage`) is its own. Prints the figures.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

CHILD = """
import resource, sys, time
from pathlib import Path
from auditcoach.engine.workbook import WorkbookError, read_workbook
started = time.monotonic()
try:
    read_workbook(Path(sys.argv[1]))
except WorkbookError as exc:
    message = str(exc)
else:
    message = "ACCEPTED"
elapsed = time.monotonic() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{elapsed:.3f} {peak_kb} {message}")
"""


def make_bomb(path: Path, *, megabytes: int) -> None:
    from openpyxl import Workbook

    good = path.with_name("good.xlsx")
    book = Workbook()
    book.remove(book.active)
    book.create_sheet("encounters").append(["encounter_id", "setting", "discharge_date"])
    book.create_sheet("codes").append(["encounter_id", "version", "system", "seq", "code"])
    book.save(good)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info, data)
                continue
            head, tail = data.split(b"<sheetData", 1)
            with dst.open(info.filename, "w", force_zip64=True) as out:
                out.write(head)
                block = b" " * (1024 * 1024)
                for _ in range(megabytes):
                    out.write(block)
                out.write(b"<sheetData" + tail)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.xlsx"
        make_bomb(bomb, megabytes=3300)
        packed = bomb.stat().st_size
        with zipfile.ZipFile(bomb) as zf:
            claimed = sum(i.file_size for i in zf.infolist())
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(bomb)], capture_output=True, text=True, check=True
        )
        wall = time.monotonic() - started
    elapsed, peak_kb, message = result.stdout.strip().split(" ", 2)
    peak_mb = int(peak_kb) / 1024
    print(f"bomb: {packed / 2**20:.1f} MB packed, {claimed / 2**30:.2f} GB unpacked")
    print(f"refused in {float(elapsed):.2f} s (subprocess wall {wall:.2f} s incl. start-up)")
    print(f"peak RSS of the checking process: {peak_mb:.0f} MB")
    print(f"message: {message}")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    ok = message != "ACCEPTED" and float(elapsed) < 2 and peak_mb < 200
    print("OK" if ok else "FAILED: over 2 s or 200 MB, or not refused")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
