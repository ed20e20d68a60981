"""A throwaway Label Studio on 127.0.0.1, for tests, benchmarks and trying the review loop out.

Label Studio pins many packages, so it lives in its own virtualenv (``make lsvenv`` puts the pinned
version in ``.lsvenv``). The server binds 127.0.0.1 only (``--internal-host``; ``--host`` is just
a URL prefix), keeps SQLite and media in ``data_dir``, and is started with a user and a legacy API
token, which Label Studio only accepts when ``--enable-legacy-api-token`` is given at the first
start of a data directory. That token is kept in the data directory (``TOKEN_FILE``), so a
restart on the same data directory (a second ``make review-demo``) logs in as the user the first
start created; a data directory without it has its user's token read back with ``label-studio
user``. ``label-studio --version`` starts a server, so the version is read from the virtualenv's
metadata instead.

Usage::

    with LocalLabelStudio(data_dir) as ls:
        creds = ls.credentials   # url + token for connectors.label_studio.push/pull
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from connectors.label_studio.client import Credentials

#: the Label Studio release the tests and benchmarks run against (``make lsvenv``)
LABEL_STUDIO_VERSION = "1.23.2"
EXECUTABLE_ENV = "RELABEL_LABEL_STUDIO"
#: in the data directory: the API token of the user the first start created
TOKEN_FILE = "relabel-api-token"
ROOT = Path(__file__).resolve().parents[2]


def find_executable() -> str | None:
    """``$RELABEL_LABEL_STUDIO``, else ``.lsvenv/bin/label-studio`` of the checkout, else PATH."""
    if os.environ.get(EXECUTABLE_ENV):
        return os.environ[EXECUTABLE_ENV]
    local = ROOT / ".lsvenv" / "bin" / "label-studio"
    if local.exists():
        return str(local)
    return shutil.which("label-studio")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalLabelStudio:
    """One Label Studio server process on 127.0.0.1.

    Parameters
    ----------
    data_dir : str or Path
        SQLite database, media and logs (``server.log``); reused by a restart.
    executable : str, optional
        The ``label-studio`` script; default :func:`find_executable`.
    port : int, optional
        Default: a free port.
    """

    username = "reviewer@example.com"
    password = "relabel-review-1"

    def __init__(self, data_dir: str | Path, *, executable: str | None = None,
                 port: int | None = None) -> None:
        exe = executable or find_executable()
        if exe is None:
            raise FileNotFoundError("label-studio not found: run `make lsvenv` or set "
                                    f"{EXECUTABLE_ENV}")
        # absolute: the server runs with the data directory as its working directory
        self.executable = str(Path(exe).resolve()) if os.sep in exe else exe
        # absolute too: a relative one would be read again from inside itself
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.token = self._saved_token()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def _token_path(self) -> Path:
        return self.data_dir / TOKEN_FILE

    def _saved_token(self) -> str:
        """The token of an earlier start on this data directory, else a new one (saved, owner
        read-only: a later start must reuse it, as Label Studio keeps the first one)."""
        with contextlib.suppress(OSError):
            token = self._token_path.read_text().strip()
            if token:
                return token
        token = secrets.token_hex(20)
        self._save_token(token)
        return token

    def _save_token(self, token: str) -> None:
        fd = os.open(self._token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> Credentials:
        return Credentials(url=self.url, api_key=self.token, source="local server")

    @property
    def _env(self) -> dict[str, str]:
        """The environment of every ``label-studio`` command on this data directory: SQLite,
        no version check or analytics (nothing leaves the machine), warnings only."""
        return {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
                "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
                "DJANGO_DB": "sqlite", "LOG_LEVEL": "WARNING"}

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout: float = 300.0) -> LocalLabelStudio:
        """Start the server and wait until ``/health`` answers UP."""
        import httpx

        env = {**self._env, "PYTHONUNBUFFERED": "1"}
        cmd = [self.executable, "start", "--no-browser", "--internal-host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", str(self.data_dir),
               "--username", self.username, "--password", self.password,
               "--user-token", self.token, "--enable-legacy-api-token",
               "--log-level", "WARNING"]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=self.data_dir, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"label-studio exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(f"{self.url}/health", timeout=2)
                if r.status_code == 200 and r.json().get("status") == "UP":
                    self._check_token()
                    return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"label-studio did not answer /health in {timeout:.0f} s:\n"
                           + self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _check_token(self) -> None:
        """A data directory whose user was created before its token was kept (or whose token
        file was deleted) has another token than ours: read the user's own back and keep it."""
        import httpx

        r = httpx.get(f"{self.url}/api/current-user/whoami", timeout=30,
                      headers={"Authorization": f"Token {self.token}"})
        if r.status_code in (401, 403):
            self.token = self._user_token(self.username)
            self._save_token(self.token)

    def _user_token(self, email: str, timeout: float = 120.0) -> str:
        """A user's API token, read with ``label-studio user`` (Label Studio Community has no
        API that returns another user's token)."""
        import re

        out = subprocess.run([self.executable, "user", "--username", email, "--data-dir",
                              str(self.data_dir)], cwd=self.data_dir, env=self._env,
                             capture_output=True, text=True, timeout=timeout, check=True)
        found = re.search(r"'token': '([0-9a-f]+)'", out.stdout + out.stderr)
        if found is None:
            raise RuntimeError(f"no token for {email} in `label-studio user`:\n{out.stdout}")
        return found.group(1)

    def add_user(self, email: str, timeout: float = 120.0) -> Credentials:
        """Create one more user (a member of the organisation, as the first user invites them)
        and return their own credentials: each annotation posted with them is written by that
        user. The token is read with ``label-studio user``."""
        import httpx

        r = httpx.post(f"{self.url}/api/users/", json={"email": email, "username": email},
                       headers={"Authorization": f"Token {self.token}"}, timeout=30)
        r.raise_for_status()
        return Credentials(self.url, self._user_token(email, timeout))

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the server and its children (a crash, for tests)."""
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL whatever is left after ``timeout`` seconds."""
        if self.proc is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._signal(signal.SIGKILL)  # children left in the group
        self.proc = None

    def __enter__(self) -> LocalLabelStudio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["LABEL_STUDIO_VERSION", "LocalLabelStudio", "find_executable", "free_port"]
