"""Run by the first-start tests as a child process: it imports opsdesk's storage once,
then serves requests read from stdin, one a line, each with fresh processes forked
from it (before a fork there is no engine, no connection and no other thread, so a
fork shares nothing with another but the imported code):

    kill URL N        one process upgrades the database at URL and SIGKILLs itself
                      just before its N-th SQL statement (N <= 0: never)
    together URL M    M processes upgrade the database at URL at the same moment

Each process's result is one line on stdout: "killed" or "exit CODE", then what it
printed — how many statements it ran, how many were CREATE TABLE, and the revisions
before and after. Forking saves each start the interpreter's start-up and imports,
which are most of its cost."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from storage import migrate
from storage.db import make_engine


def upgrade(url: str, kill_at: int, report: int) -> None:
    """In a forked process: upgrade `url`, killed before statement `kill_at`."""
    seen = created = 0

    def before_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal seen, created
        seen += 1
        created += statement.lstrip().upper().startswith("CREATE TABLE")
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Engine, "before_cursor_execute", before_statement)
    before, after = migrate.upgrade(make_engine(url))
    os.write(report, f"{seen} {created} {before.current} {after.current}".encode())


def forked(url: str, kill_at: int, gate: tuple[int, int] | None = None) -> tuple[int, int]:
    """A process that waits until the gate pipe closes (if given), then upgrades; its
    pid and the pipe it reports on."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the fork: never returns
        code = 0
        try:
            os.close(read_end)
            if gate is not None:
                os.close(gate[1])
                os.read(gate[0], 1)  # end of file once the server closes its end
            upgrade(url, kill_at, write_end)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def result(pid: int, report: int) -> str:
    printed = b""
    while chunk := os.read(report, 4096):
        printed += chunk
    os.close(report)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    outcome = "killed" if killed else f"exit {os.waitstatus_to_exitcode(status)}"
    return f"{outcome} {printed.decode()}".strip()


def serve() -> None:
    for line in sys.stdin:
        request, url, number = line.split()
        if request == "kill":
            answers = [result(*forked(url, int(number)))]
        else:
            gate = os.pipe()
            started = [forked(url, -1, gate) for _ in range(int(number))]
            os.close(gate[1])  # all at once
            os.close(gate[0])
            answers = [result(pid, report) for pid, report in started]
        print("\n".join(answers), flush=True)


if __name__ == "__main__":
    serve()
