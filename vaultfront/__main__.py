"""`vaultfront` on the command line.

`vaultfront run` goes straight to `vaultfront.executor.run` without importing click or the
web stack (it must start about as fast as `import hvac`); everything else is the click
CLI in `vaultfront.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        from vaultfront.executor.run import main as run_main

        sys.exit(run_main(sys.argv[2:]))
    from vaultfront.cli import cli

    cli()


if __name__ == "__main__":
    main()
