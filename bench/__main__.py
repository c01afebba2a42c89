"""`python -m bench NAME [args...]`: dispatch to `bench.NAME.main()` with the remaining argv."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path


def _available() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    names = _available()
    if not args or args[0] in ("-h", "--help"):
        print(f"usage: python -m bench NAME [options]   (NAME: {', '.join(names) or 'none'})")
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in names:
        print(f"unknown benchmark {name!r}; available: {', '.join(names) or 'none'}")
        return 2
    module = importlib.import_module(f"bench.{name}")
    sys.argv = [f"python -m bench {name}", *rest]
    entry = module.main
    result = entry(rest) if inspect.signature(entry).parameters else entry()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
