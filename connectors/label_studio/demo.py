"""``make review-demo``: try the review step in one command.

Starts a throwaway Label Studio on 127.0.0.1 (from ``.lsvenv``, data under
``relabel-out/review-demo/label-studio``), pushes a denoise run's flagged examples into a project,
prints the URL and the login, and waits; Ctrl-C (or SIGTERM) stops the server by its process
group. Nothing listens on another address.

Usage::

    python -m connectors.label_studio.demo RUN_DIR [--project NAME] [--port N] [--once]

``--once`` stops right after the push (tests).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from connectors.label_studio import push
from connectors.label_studio.local_server import LocalLabelStudio
from relabel.errors import RelabelError, cli_options


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="review-demo")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--project", default="relabel demo")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--data-dir", type=Path, default=Path("relabel-out/review-demo/label-studio"))
    ap.add_argument("--once", action="store_true", help="stop after pushing (tests)")
    args = ap.parse_args(argv)
    try:
        return _serve(args)
    except RelabelError as exc:  # one line, as the relabel commands say it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while starting or pushing (the server is stopped)
        print("interrupted", file=sys.stderr)
        return 130


def _serve(args: argparse.Namespace) -> int:
    """Start the server, push, wait for Ctrl-C or SIGTERM; the server is stopped on every
    way out."""
    from relabel.api import load_run

    load_run(args.run_dir)  # not a run directory: said before a server is started
    server = LocalLabelStudio(args.data_dir, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"starting Label Studio on {server.url} (data in {args.data_dir}) ...", flush=True)
    try:
        server.start()
        res = push(args.run_dir, args.project, credentials=server.credentials)
        # From here on Ctrl-C only ends the wait: handled as a signal (not a KeyboardInterrupt
        # raised wherever the main thread happens to be), installed before the line that tells
        # the user to press it, so an early Ctrl-C still stops the server and exits 0.
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        print(f"pushed {res.selected} flagged examples of {args.run_dir} to '{args.project}'\n"
              f"open {res.project_url}\n"
              f"log in as {server.username} / {server.password}\n"
              f"to pull the decisions from another shell (the token of this local server's "
              f"user, kept in {args.data_dir} for its next start):\n"
              f"  export LABEL_STUDIO_URL={server.url} LABEL_STUDIO_API_KEY={server.token}\n"
              f"  relabel review pull {args.run_dir} --project '{args.project}'\n"
              f"(server pid {server.proc.pid if server.proc else '?'}; Ctrl-C stops it)",
              flush=True)
        if not args.once:
            while not stop.wait(1.0):
                pass
    finally:
        server.stop()
        print("Label Studio stopped", flush=True)
    return 0


if __name__ == "__main__":
    with cli_options():  # a command line: messages name --options
        sys.exit(main())
