"""All of relabel's HTTP to Label Studio, through label-studio-sdk, in one class.

Credentials come from ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``, or from the
``[label_studio]`` table (``url``, ``api_key``) of a TOML config file (``$RELABEL_CONFIG``, else
``$XDG_CONFIG_HOME/relabel/config.toml``, else ``~/.config/relabel/config.toml``); never from the
command line. The key is never put in a message, a log line or a file: errors name the URL only
(without any ``user:password@`` part).

Every failure becomes one :class:`LabelStudioError` line: server down or unreachable, a URL that
is not a Label Studio, a refused key, or an unexpected answer. The SDK's own retries are off: an
import retried after a lost answer could create a task twice, so idempotence is handled one level
up (:mod:`connectors.label_studio`), by listing what the project holds before importing.
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from relabel.errors import RelabelError, option

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"
CONFIG_ENV = "RELABEL_CONFIG"
#: tasks per request when listing
PAGE_SIZE = 1000
DEFAULT_TIMEOUT = 120.0
#: what listing a project returns per task: enough to key it and to know if a human touched it
LIST_FIELDS = ("id", "data", "total_annotations", "cancelled_annotations", "drafts")


#: Label Studio's limits on a project title (``PROJECT_TITLE_MIN_LEN`` / ``_MAX_LEN`` of its
#: settings): a title outside them is refused with HTTP 400 when the project is created
TITLE_MIN, TITLE_MAX = 3, 50


def check_project_title(title: str) -> None:
    """Raise RelabelInputError (before any request) for a project title Label Studio would
    refuse to create."""
    from relabel.errors import RelabelInputError, option

    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise RelabelInputError(f"{option('--project')}: a Label Studio project title has "
                                f"{TITLE_MIN} to {TITLE_MAX} characters; {title!r} has "
                                f"{len(title)}")


class LabelStudioError(RelabelError):
    """Label Studio could not be reached or refused a request; the message is one line."""


@dataclass(frozen=True)
class Credentials:
    """Where Label Studio is and the key to use; ``repr`` hides the key."""

    url: str
    api_key: str = field(repr=False)
    source: str = "environment"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The config file looked at when the environment does not name the server."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "relabel" / "config.toml"


def public_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def resolve_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """Read the URL and key from the environment, else from the config file.

    Raises
    ------
    LabelStudioError
        Neither place names both, the config file is not valid TOML, or the URL is not http(s).
    """
    env = os.environ if env is None else env
    url, key, source = env.get(URL_ENV, "").strip(), env.get(KEY_ENV, "").strip(), "environment"
    if not (url and key):
        path = config_path(env)
        if path.is_file():
            try:
                table = tomllib.loads(path.read_text(encoding="utf-8")).get("label_studio", {})
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise LabelStudioError(f"{path}: not a valid TOML file ({exc})") from None
            url = url or str(table.get("url", "")).strip()
            key = key or str(table.get("api_key", "")).strip()
            source = str(path)
    if not (url and key):
        missing = " and ".join(n for n, v in ((URL_ENV, url), (KEY_ENV, key)) if not v)
        raise LabelStudioError(
            f"{missing} not set: export {URL_ENV}=http://host:port and {KEY_ENV}=<your token> "
            f"(Label Studio: Account & Settings > Access Token), or put url and api_key under "
            f"[label_studio] in {config_path(env)}")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise LabelStudioError(f"{URL_ENV} must look like http://host:port, got "
                               f"'{public_url(url)}'")
    return Credentials(url=url.rstrip("/"), api_key=key, source=source)


_WARNED: set[str] = set()


def _loopback(host: str) -> bool:
    import ipaddress

    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
            ".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cleartext_warning(url: str) -> str | None:
    """The warning for a key sent unencrypted: an ``http://`` server that is not on a loopback
    address (``https://`` or 127.0.0.1 / ::1 / localhost give none)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or _loopback(parts.hostname or ""):
        return None
    return (f"{public_url(url)} is plain http on another machine: the API key travels "
            "unencrypted; use an https:// URL")


class LabelStudioClient:
    """A connection to one Label Studio server.

    Parameters
    ----------
    credentials : Credentials
        Server URL and API key (legacy token or personal access token).
    timeout : float
        Seconds per request.
    """

    def __init__(self, credentials: Credentials, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = public_url(credentials.url)
        warning = cleartext_warning(credentials.url)
        if warning is not None and self.url not in _WARNED:  # once per server and process
            import logging

            _WARNED.add(self.url)
            logging.getLogger("relabel").warning("%s", warning)
        with self._errors("connect to"):
            from label_studio_sdk import LabelStudio

            self._sdk = LabelStudio(base_url=credentials.url, api_key=credentials.api_key,
                                    timeout=timeout, max_retries=0)

    # -- errors ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            yield
        except LabelStudioError:
            raise
        except httpx.TimeoutException:
            raise LabelStudioError(f"Label Studio at {self.url} did not answer in time while "
                                   f"trying to {doing} it") from None
        except httpx.TransportError as exc:
            raise LabelStudioError(f"cannot reach Label Studio at {self.url} "
                                   f"({type(exc).__name__}); is it running, and is {URL_ENV} "
                                   "right?") from None
        except ApiError as exc:
            raise self._api_error(exc, doing) from None
        except (json.JSONDecodeError, ValueError) as exc:
            raise LabelStudioError(f"{self.url} gave an answer that is not Label Studio's while "
                                   f"trying to {doing} it ({type(exc).__name__}); is {URL_ENV} "
                                   "right?") from None

    def _api_error(self, exc: Any, doing: str) -> LabelStudioError:
        status = exc.status_code
        if status in (401, 403):
            return LabelStudioError(f"Label Studio at {self.url} refused the API key (HTTP "
                                    f"{status}); check {KEY_ENV}")
        if status == 404:
            return LabelStudioError(f"{self.url} has no such Label Studio API (HTTP 404 while "
                                    f"trying to {doing} it); is {URL_ENV} right?")
        detail = ""
        if isinstance(exc.body, Mapping):
            detail = " ".join(str(exc.body.get(k)) for k in ("detail", "validation_errors")
                              if exc.body.get(k))
        elif isinstance(exc.body, str) and not exc.body.lstrip().startswith("<"):
            detail = exc.body
        detail = " ".join(detail.split())[:200]
        return LabelStudioError(f"Label Studio at {self.url} answered HTTP {status} while trying "
                                f"to {doing} it" + (f": {detail}" if detail else ""))

    def _json(self, method: str, path: str, doing: str, **kwargs: Any) -> Any:
        """One raw request through the SDK's HTTP client; JSON back (None for 204)."""
        from label_studio_sdk.core.api_error import ApiError

        with self._errors(doing):
            resp = self._sdk._client_wrapper.httpx_client.request(path, method=method, **kwargs)
            if resp.status_code >= 400:
                try:
                    body = resp.json()
                except ValueError:
                    body = resp.text
                raise ApiError(status_code=resp.status_code, body=body)
            if resp.status_code == 204 or not resp.content:
                return None
            return resp.json()

    # -- server ------------------------------------------------------------------------------
    def check(self) -> dict[str, Any]:
        """Check that the server is a Label Studio and accepts the key; returns the user."""
        health = self._json("GET", "health", "check the health of")
        if not (isinstance(health, Mapping) and health.get("status") == "UP"):
            raise LabelStudioError(f"{self.url} does not look like Label Studio (no healthy "
                                   f"/health); is {URL_ENV} right?")
        user = self._json("GET", "api/current-user/whoami", "check the API key with")
        return user if isinstance(user, dict) else {}

    def users(self) -> dict[int, str]:
        """User id -> e-mail (or username) of the organisation."""
        users = self._json("GET", "api/users", "list the users of")
        return {int(u["id"]): str(u.get("email") or u.get("username") or u["id"])
                for u in users or []}

    # -- projects ----------------------------------------------------------------------------
    def find_project(self, title: str) -> dict[str, Any] | None:
        """The project with this exact title, or None. Two with the title is an error."""
        found, page = [], 1
        while True:
            data = self._json("GET", "api/projects", "list the projects of",
                              params={"page": page, "page_size": 100, "title": title})
            results = data.get("results", []) if isinstance(data, Mapping) else data or []
            found += [p for p in results if p.get("title") == title]
            if not (isinstance(data, Mapping) and data.get("next")):
                break
            page += 1
        if len(found) > 1:
            ids = ", ".join(str(p["id"]) for p in found)
            raise LabelStudioError(f"{len(found)} projects on {self.url} are named '{title}' "
                                   f"(ids {ids}); rename one or choose another "
                                   f"{option('--project')}")
        return found[0] if found else None

    def create_project(self, title: str, config: str, *, model_version: str,
                       description: str = "") -> dict[str, Any]:
        """Create a project that shows the least credible tasks first."""
        return self._json("POST", "api/projects", f"create project '{title}' on", json={
            "title": title, "label_config": config, "description": description,
            "sampling": "Uncertainty sampling", "model_version": model_version,
            "show_collab_predictions": True, "show_skip_button": True,
        })

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        """Change project settings (e.g. ``model_version``)."""
        return self._json("PATCH", f"api/projects/{project_id}", "update the project on",
                          json=fields)

    # -- tasks -------------------------------------------------------------------------------
    def iter_tasks(self, project_id: int, *, page_size: int = PAGE_SIZE
                   ) -> Iterator[list[dict[str, Any]]]:
        """Pages of the project's tasks as raw JSON dicts with the ``LIST_FIELDS`` only (cheap:
        enough to key a task and to know whether a reviewer touched it)."""
        page = 1
        while True:
            params: dict[str, Any] = {"project": project_id, "page": page,
                                      "page_size": page_size, "fields": "task_only",
                                      "include": ",".join(LIST_FIELDS)}
            try:
                data = self._json("GET", "api/tasks", "list the tasks of", params=params)
            except LabelStudioError as exc:  # asking past the last page answers 404
                if page > 1 and "404" in str(exc):
                    return
                raise
            tasks = data.get("tasks", []) if isinstance(data, Mapping) else []
            if tasks:
                yield tasks
            if len(tasks) < page_size:
                return
            page += 1

    def export_annotated(self, project_id: int, *, timeout: float = 1800.0
                         ) -> list[dict[str, Any]]:
        """Every task with an annotation (submitted or skipped), with all its annotations, in
        one export request (about twice as fast as paging through ``api/tasks``)."""
        res = self._json("GET", f"api/projects/{project_id}/export", "export annotations from",
                         params={"exportType": "JSON", "download_all_tasks": "false"},
                         request_options={"timeout": timeout})
        return list(res or [])

    def import_tasks(self, project_id: int, tasks: Sequence[Mapping[str, Any]]) -> list[int]:
        """Import tasks (with inline predictions) in one request; their new ids."""
        res = self._json("POST", f"api/projects/{project_id}/import", "import tasks into",
                         params={"return_task_ids": "true", "commit_to_project": "true"},
                         json=list(tasks))
        return [int(i) for i in (res or {}).get("task_ids", [])]

    def delete_predictions(self, project_id: int, task_ids: Sequence[int]) -> None:
        """Delete every prediction of these tasks in one request."""
        if task_ids:
            self._json("POST", "api/dm/actions", "delete old predictions on",
                       params={"id": "delete_tasks_predictions", "project": project_id},
                       json={"selectedItems": {"all": False, "included": list(task_ids)}})

    def delete_tasks(self, project_id: int, task_ids: Sequence[int]) -> None:
        """Delete these tasks (and their predictions) in one request."""
        if task_ids:
            self._json("POST", "api/dm/actions", "delete stale tasks on",
                       params={"id": "delete_tasks", "project": project_id},
                       json={"selectedItems": {"all": False, "included": list(task_ids)}})

    def import_predictions(self, project_id: int, predictions: Sequence[Mapping[str, Any]]
                           ) -> None:
        """Import predictions (each with its ``task`` id) in one request."""
        if predictions:
            self._json("POST", f"api/projects/{project_id}/import/predictions",
                       "import predictions into", json=list(predictions))

    def update_task(self, task_id: int, data: Mapping[str, Any]) -> None:
        """Replace one task's data."""
        self._json("PATCH", f"api/tasks/{task_id}", "update a task on", json={"data": dict(data)})

    def close(self) -> None:
        """Close the HTTP connections."""
        with contextlib.suppress(Exception):
            self._sdk._client_wrapper.httpx_client.httpx_client.close()

    def __enter__(self) -> LabelStudioClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Credentials", "LabelStudioClient", "LabelStudioError", "config_path",
           "public_url", "resolve_credentials"]
