"""A run: plan stored, cells executed, each result committed as soon as it arrives.

Used by `theorybench run` and `theorybench submit`. The runner owns the loop between the executor
and the store; it neither scores nor prints, and reports progress through a callback.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
import sys
from typing import Callable, Sequence

from theorybench.contracts import Cell
from theorybench.executors import Executor
from theorybench.provenance import git_state, machine_fingerprint, package_versions
from theorybench.registry import ImplementationRef
from theorybench.seeds import salt_digest
from theorybench.store import Store
from theorybench.worker import CellResult

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[CellResult], None]


@dataclasses.dataclass
class RunSummary:
    """The outcome of a run: its id, how many cells ran, and the failed results."""

    run_id: str
    planned: int
    executed: int
    skipped_finished: int
    failures: list[CellResult]
    skipped: list[CellResult]
    interrupted: bool = False


#: Flags whose values must never reach the store: the private salt, and store URLs with passwords.
SECRET_FLAGS = ("--salt",)
URL_FLAGS = ("--store",)


def redact_command(argv: Sequence[str]) -> str:
    """Return the command line as one string with the salt replaced by *** and URL passwords masked."""
    import sqlalchemy as sa

    def mask(flag: str, value: str) -> str:
        if flag in SECRET_FLAGS:
            return "***"
        try:
            return sa.engine.make_url(value).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - a value that is no URL is kept as it is
            return value

    words: list[str] = []
    pending = ""
    for word in argv:
        if pending:
            words.append(mask(pending, word))
            pending = ""
            continue
        flag, equals, value = word.partition("=")
        if flag in SECRET_FLAGS + URL_FLAGS:
            if equals:
                words.append(f"{flag}={mask(flag, value)}")
            else:
                words.append(word)
                pending = flag
            continue
        words.append(word)
    return shlex.join(words)


def start_run(
    store: Store,
    cells: Sequence[Cell],
    implementations: Sequence[ImplementationRef],
    *,
    tier: str,
    executor_name: str,
    salt: str,
    kind: str = "run",
    label: str = "",
    command: str | None = None,
) -> str:
    """Record a new run with its provenance and plan; return its id."""
    commit, dirty = git_state()
    return store.create_run(
        command=command if command is not None else redact_command(["theorybench", *sys.argv[1:]]),
        tier=tier,
        executor=executor_name,
        salt=salt_digest(salt),
        git_commit=commit,
        git_dirty=dirty,
        fingerprint=machine_fingerprint(),
        packages=package_versions(),
        cells=cells,
        implementations=implementations,
        kind=kind,
        label=label,
    )


def execute_run(
    store: Store,
    run_id: str,
    cells: Sequence[Cell],
    executor: Executor,
    source_hashes: dict[tuple[str, str], str],
    on_result: ProgressCallback | None = None,
) -> RunSummary:
    """Run the cells of `run_id` that have no stored result yet and store each result.

    A KeyboardInterrupt marks the run "interrupted" (resumable with `--resume`) and re-raises.
    """
    run = store.get_run(run_id)
    done = store.finished_cell_keys(run_id)
    todo = [cell for cell in cells if cell.key not in done]
    summary = RunSummary(run_id=run_id, planned=len(cells), executed=0, skipped_finished=len(cells) - len(todo), failures=[], skipped=[])
    store.set_run_status(run_id, "running", finished=False)
    try:
        for result in executor.run(todo):
            cell = result.cell
            store.add_result(
                run_id, result, fingerprint_id=run.fingerprint_id, git_commit=run.git_commit,
                source_hash=source_hashes.get((cell.suite, cell.implementation), ""), salt=run.salt,
            )
            summary.executed += 1
            if result.status == "skipped":
                summary.skipped.append(result)
            elif result.failed:
                summary.failures.append(result)
            if on_result is not None:
                on_result(result)
    except KeyboardInterrupt:
        summary.interrupted = True
        store.set_run_status(run_id, "interrupted")
        raise
    store.set_run_status(run_id, "finished")
    return summary
