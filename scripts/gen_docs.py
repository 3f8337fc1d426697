"""Regenerate ``completions/`` and ``man/`` from the CLI's command tree.

Run after changing any command: ``.venv/bin/python scripts/gen_docs.py``. ``--check`` exits 1
and lists the stale files instead of writing (tests/cli/test_docs.py does the same check).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codality_cli.docs import generated_files  # noqa: E402
from codality_cli.main import build_app  # noqa: E402


def stale_files(root: Path = ROOT) -> list[str]:
    """Generated files whose content on disk differs (or that are missing)."""
    stale = []
    for relative, text in generated_files(build_app()).items():
        path = root / relative
        if not path.exists() or path.read_text("utf-8") != text:
            stale.append(relative)
    return stale


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_files()
        for relative in stale:
            print(f"stale: {relative}")
        return 1 if stale else 0
    for relative, text in generated_files(build_app()).items():
        path = ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
