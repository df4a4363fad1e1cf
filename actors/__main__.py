"""``python -m actors [Dramatiq's options]``: the Procfile's worker. Dramatiq's own command line,
with the actors imported once in its main process before it forks the worker processes (as
gunicorn's ``--preload``): each worker process starts with them loaded instead of importing
them itself. That import is a second or more of CPU per process, paid at every start, restart
and scale-out, and at a backlog's first minute it is time no payment settles; forked, the
processes also share those pages until they write them.

Everything the import builds is safe to fork: the broker's Redis clients open their
connections on first use in the process that uses them, and each worker process configures its
own logging again once Dramatiq has set up its own (``LogContext.after_process_boot``).
"""

import sys

from dramatiq.cli import main, make_argument_parser

import actors

BROKER_MODULE = actors.__name__


def run(arguments: list[str]) -> int:
    return int(main(make_argument_parser().parse_args([BROKER_MODULE, *arguments])) or 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
