"""The `theorybench` command line.

Exit codes:
- 0: ok.
- 1: a regression or a failed validation.
- 2: a usage error.
- 3: an implementation failed; the run still completed and stored everything.
- 4: an infrastructure failure (store, executor).
- 130: interrupted by Ctrl+C or SIGTERM; the run is resumable with `--resume`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from typing import Sequence

from rich.console import Console
from rich.markup import escape
from rich.logging import RichHandler

from theorybench.errors import TheoryBenchError

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_IMPLEMENTATION_FAILED = 3
EXIT_INFRASTRUCTURE = 4
EXIT_INTERRUPTED = 130

#: Modules under theorybench.commands; each defines `register(subparsers, common_parser)`.
COMMAND_MODULES = ("listing", "run", "results", "submit", "compare")

#: Width of tables written to a file or a pipe, where no terminal width is known.
PIPE_WIDTH = 200

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_WIDTH)
error_console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else PIPE_WIDTH)


def _common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store", metavar="URL", default=None,
        help="SQLAlchemy URL of the result store (default: $THEORYBENCH_STORE, else sqlite:///theorybench.db)",
    )
    common.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="theorybench",
        description="Score implementations of ML algorithms against each other and against the bounds theory proves.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common_parser()
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"theorybench.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"theorybench.commands.{name}":
                continue
            raise
        module.register(subparsers, common)
    return parser


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler = RichHandler(console=error_console, show_path=False, show_time=False, markup=False)
    logging.basicConfig(level=level, handlers=[handler], format="%(name)s: %(message)s", force=True)


def _interrupt_on_sigterm(signal_number: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal_number}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    # SIGTERM stops a run the way Ctrl+C does: the run is marked interrupted and stays resumable.
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        return int(args.handler(args) or EXIT_OK)
    except TheoryBenchError as error:
        error_console.print("[bold red]error:[/bold red] " + escape(str(error)), highlight=False)
        return error.exit_code
    except KeyboardInterrupt:
        error_console.print("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
