"""Label Studio review loop: push relabel's suggestions as tasks, pull human decisions back.

:func:`push` creates (or reuses) a project whose labeling config comes from the run's classes,
and imports one task per example, most suspicious first, with relabel's suggestion as the
prediction (``score`` = 1 - suspicion, so with the project's *uncertainty sampling* reviewers get
the most suspicious first). Pushing is idempotent, keyed by the example id stored in each task:
the project is listed first, new examples are imported in bulk batches, examples whose task data
or run changed are replaced (deleted and imported again, in bulk) or, when a reviewer already
worked on them, keep their task and annotations and get their prediction replaced and data
patched; the rest are left alone. A
push cut short (crash, server down) is finished by pushing again; no task is ever created twice.

:func:`pull` reads the annotations back into ``reviews.parquet`` (``relabel.review.reviews``).

Pure JSON conversion lives in :mod:`.convert`, all HTTP in :mod:`.client`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from connectors.label_studio.client import (
    Credentials,
    LabelStudioClient,
    LabelStudioError,
    check_project_title,
    resolve_credentials,
)
from connectors.label_studio.convert import (
    annotations_from_tasks,
    config_classes,
    label_config,
    model_version,
    prediction,
    reviews_from_tasks,
    task_data,
    tasks_json,
)
from relabel.errors import option
from relabel.lock import locks_run_dir
from relabel.rundir import RunFiles

#: tasks per import request
BATCH_SIZE = 1000
PUSH_FILE = RunFiles.PUSH


@dataclass
class PushResult:
    """What a push did."""

    project_id: int
    project_url: str
    model_version: str
    selected: int
    created: int
    updated: int
    unchanged: int
    project_created: bool


@dataclass
class PullResult:
    """What a pull wrote."""

    path: Path
    tasks: int
    accepted: int
    changed: int
    skipped: int
    #: every annotator's own decision (``annotations.parquet``, for ``relabel consensus``)
    annotations: int = 0
    annotators: int = 0
    #: tasks decided by more than one annotator
    multi_annotated: int = 0
    #: classes the reviewers chose that the run lacks (added to the project in Label Studio):
    #: ``denoise --reviews`` makes them classes of the next run
    new_classes: list[str] = field(default_factory=list)


def _connect(credentials: Credentials | None) -> LabelStudioClient:
    client = LabelStudioClient(credentials or resolve_credentials())
    client.check()
    return client


def _touched(task: dict[str, Any]) -> bool:
    """Whether a reviewer worked on a task (annotation, skip or draft); unknown counts as yes."""
    if "total_annotations" not in task:
        return True
    return bool(task.get("total_annotations") or task.get("cancelled_annotations")
                or task.get("drafts"))


def _check_label_set(project: dict[str, Any], classes: list[str], url: str) -> list[str]:
    """The project's classes this run lacks, in the project's order.

    An annotation lead may add a class in Label Studio's settings while the reviewers work
    (a label the data needs and never had): the project then holds every class of the run and
    more. That is kept: a push keeps those classes in the project, a pull brings the decisions
    that use them, and ``denoise --reviews`` makes them classes of the next run. A project
    without one of the run's classes belongs to other data, and is refused.
    """
    have = config_classes(project.get("label_config") or "")
    title = project.get("title")
    if have is None:
        raise LabelStudioError(f"project '{title}' on {url} has no Choices named 'label': it was "
                               f"not created by relabel; choose another {option('--project')}")
    known = set(classes)
    extra = [c for c in have if c not in known]
    missing = sorted(known - set(have))
    if missing:
        parts = ([f"only the project has {', '.join(sorted(extra)[:5])}"] if extra else []) + \
                [f"only this run has {', '.join(missing[:5])}"]
        raise LabelStudioError(f"project '{title}' on {url} has another label set than this run "
                               f"({'; '.join(parts)}); push to a new {option('--project')}")
    return extra


@locks_run_dir("relabel review push")
def push(
    run_dir: str | Path,
    project: str,
    *,
    only: str = "flagged",
    limit: int | None = None,
    credentials: Credentials | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], Any] | None = None,
    ids: list[str] | None = None,
    blind: Iterable[str] = (),
) -> PushResult:
    """Push a run's examples to a Label Studio project for review.

    Parameters
    ----------
    run_dir : str or Path
        Output directory of ``relabel denoise``.
    project : str
        Project title; created when no project has it.
    only : {"flagged", "all"}
        Which examples to push.
    limit : int, optional
        At most this many, the least credible first.
    credentials : Credentials, optional
        Default: :func:`resolve_credentials` (environment, then config file).
    batch_size : int
        Tasks per import request.
    progress : callable, optional
        ``progress(n, total)`` after each batch: ``n`` more of ``total`` examples handled.
    ids : list of str, optional
        Push exactly these examples (``review next``) instead of ``only`` / ``limit``.
    blind : iterable of str
        Ids whose tasks hide relabel's view: no credibility, reason, suggestion or pre-selected
        choice (the random audit and the spot check; :mod:`connectors.label_studio.convert`).

    Returns
    -------
    PushResult

    Raises
    ------
    RelabelInputError
        Bad options or run files (before anything is sent).
    LabelStudioError
        Server unreachable, key refused, a project with another label set, a failed request.
    """
    from relabel import __version__
    from relabel.data.write import write_json
    from relabel.review.reviews import review_items

    check_project_title(project)
    items = review_items(run_dir, only=only, limit=limit, ids=ids)
    version = model_version(__version__, items.run_id)
    client = _connect(credentials)
    with client:
        config = label_config(items.classes, relation=items.task == "relation",
                              votes="annotations" in items.frame.columns)
        proj = client.find_project(project)
        created_project = proj is None
        if proj is None:
            proj = client.create_project(
                project, config, model_version=version,
                description=f"relabel review of {Path(run_dir).resolve().name}: least credible "
                            "labels first")
        else:
            added = _check_label_set(proj, items.classes, client.url)
            if added:  # classes added in Label Studio stay there (_check_label_set)
                config = label_config([*items.classes, *added],
                                      relation=items.task == "relation",
                                      votes="annotations" in items.frame.columns)
            if proj.get("label_config") != config:  # a newer relabel's layout, same label set
                client.update_project(int(proj["id"]), label_config=config)
        pid = int(proj["id"])
        existing: dict[str, tuple[int, dict[str, Any], bool]] = {}
        for page in client.iter_tasks(pid):
            for t in page:
                key = (t.get("data") or {}).get("relabel_id")
                if key is not None and str(key) not in existing:
                    existing[str(key)] = (int(t["id"]), t["data"], _touched(t))

        rows = items.frame.to_dicts()
        hidden = {str(i) for i in blind}
        new, replace, patch, unchanged = [], [], [], 0
        for r in rows:
            have = existing.get(str(r["id"]))
            if have is None:
                new.append(r)
            elif have[1] == task_data(r, version, blind=str(r["id"]) in hidden):
                unchanged += 1
            elif have[2]:
                patch.append((have[0], r))
            else:
                replace.append((have[0], r))
        if progress is not None and unchanged:
            progress(unchanged, len(rows))
        for start in range(0, len(new), batch_size):
            batch = new[start : start + batch_size]
            client.import_tasks(pid, tasks_json(batch, version, blind=hidden))
            if progress is not None:
                progress(len(batch), len(rows))
        for start in range(0, len(replace), batch_size):
            # stale tasks no human touched: delete and import again, two bulk requests (patching
            # runs at about 7 tasks/s); a push cut short in between imports them next time
            stale = replace[start : start + batch_size]
            client.delete_tasks(pid, [tid for tid, _ in stale])
            client.import_tasks(pid, tasks_json([r for _, r in stale], version, blind=hidden))
            if progress is not None:
                progress(len(stale), len(rows))
        for start in range(0, len(patch), batch_size):
            # stale tasks with annotations or drafts are kept: predictions first, data (which
            # records the run) last, so a push cut short in between still sees them as stale
            kept = patch[start : start + batch_size]
            client.delete_predictions(pid, [tid for tid, _ in kept])
            made = [(tid, prediction(r, version, blind=str(r["id"]) in hidden))
                    for tid, r in kept]
            preds = [{**p, "task": tid} for tid, p in made if p is not None]
            if preds:
                client.import_predictions(pid, preds)
            for tid, r in kept:
                client.update_task(tid, task_data(r, version, blind=str(r["id"]) in hidden))
            if progress is not None:
                progress(len(kept), len(rows))
        if not created_project and proj.get("model_version") != version:
            # only now: Label Studio accepts a model version once predictions carry it; it
            # picks the predictions that pre-fill the form and order the uncertainty sampling
            client.update_project(pid, model_version=version)
    result = PushResult(project_id=pid, project_url=f"{client.url}/projects/{pid}/data",
                        model_version=version, selected=len(rows), created=len(new),
                        updated=len(replace) + len(patch), unchanged=unchanged,
                        project_created=created_project)
    write_json({**asdict(result), "project": project, "only": only, "limit": limit,
                "ids": [str(r["id"]) for r in rows] if ids is not None else None,
                "pushed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
               Path(run_dir) / PUSH_FILE)
    return result


@locks_run_dir("relabel review pull")
def pull(
    run_dir: str | Path,
    project: str,
    *,
    credentials: Credentials | None = None,
) -> PullResult:
    """Pull the reviewers' decisions of a project into ``reviews.parquet`` of the run.

    Raises
    ------
    RelabelInputError
        Missing run files.
    LabelStudioError
        Server unreachable, key refused, no such project, or a project whose label set does
        not match the run.
    """
    import polars as pl

    from relabel.review.reviews import write_reviews
    from relabel.rundir import load_run, run_classes

    _, scores = load_run(run_dir)
    classes = run_classes(run_dir, scores)
    client = _connect(credentials)
    with client:
        proj = client.find_project(project)
        if proj is None:
            raise LabelStudioError(f"no project named '{project}' on {client.url}; run "
                                   "`relabel review push` first")
        _check_label_set(proj, classes, client.url)
        tasks = client.export_annotated(int(proj["id"]))
        users = client.users()
        reviews = reviews_from_tasks(tasks, users)
        every = annotations_from_tasks(tasks, users)
    from relabel.data.write import write_table

    # every annotator's decision, for `relabel consensus DIR` (several annotators per task)
    write_table(every, RunFiles(Path(run_dir)).annotations)
    path = write_reviews(reviews, run_dir)
    counts = reviews["status"].value_counts()
    n = dict(zip(counts["status"].to_list(), counts["count"].to_list(), strict=True))
    per_task = every.group_by("id").len()
    used = reviews.filter(pl.col("reviewed_label").is_not_null())["reviewed_label"].unique()
    return PullResult(path=path, tasks=reviews.height, accepted=n.get("accepted", 0),
                      changed=n.get("changed", 0), skipped=n.get("skipped", 0),
                      annotations=every.height, annotators=every["annotator"].n_unique(),
                      multi_annotated=int((per_task["len"] > 1).sum()),
                      new_classes=sorted(set(used.to_list()) - set(classes)))


@dataclass
class NextResult:
    """What ``review next`` did: the pull first (None when the project did not exist yet),
    then the push of the chosen examples."""

    pulled: PullResult | None
    pushed: PushResult | None
    chosen: int
    remaining: int
    #: of the chosen, how many come from the random audit (``audit``), and the audit's size
    audited: int = 0
    audit_size: int = 0
    #: of the chosen, how many come from the spot check of the automatic changes, and its size
    checked: int = 0
    check_size: int = 0
    #: the run's automatic changes (what the spot check samples)
    changes: int = 0
    #: the reviewers' error rate the batch was chosen with (None: not known, every unreviewed
    #: example could be chosen), where it came from (``given`` or ``audit``: measured where two
    #: reviewers decided the same audited examples), and how many unreviewed examples it held
    #: back (their chance of a wrong label is not above it: a review is expected to do harm)
    reviewer_error: float | None = None
    reviewer_error_source: str | None = None
    held_back: int = 0


def _project_exists(project: str, credentials: Credentials | None) -> bool:
    client = _connect(credentials)
    with client:
        return client.find_project(project) is not None


@locks_run_dir("relabel review next")
def review_next(
    run_dir: str | Path,
    project: str,
    *,
    batch: int,
    audit: int = 0,
    check_changes: int = 0,
    reviewer_error: float | None = None,
    credentials: Credentials | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> NextResult:
    """Push the next ``batch`` examples worth a human look
    (:func:`relabel.review.batch.next_batch`). With ``audit > 0``, push that many undecided
    examples of the random audit besides (:mod:`relabel.review.audit`; the audit grows as
    needed, and its size is kept in the run's ``audit.json``). With ``check_changes > 0``, push
    that many undecided automatic changes of the spot check (:mod:`relabel.review.spotcheck`;
    its size is kept in ``change_check.json``).

    With ``reviewer_error`` (the reviewers' error rate; default: the one the random audit
    measured, :func:`relabel.review.batch.review_floor`) only examples whose label is wrong with
    a higher probability are chosen: a review elsewhere is expected to break more right labels
    than it fixes (:func:`relabel.review.batch.plan_next`).

    The project's decisions are pulled first, so an example reviewed since the last pull is
    never pushed again. Idempotent: run twice without new reviews, it pushes the same examples
    and creates no task twice.

    Raises
    ------
    RelabelInputError
        ``batch``, ``audit`` or ``check_changes`` below 0, all 0, ``reviewer_error`` outside
        [0, 0.5), or missing run files.
    LabelStudioError
        As :func:`push` and :func:`pull`.
    """
    from relabel.errors import RelabelInputError, option
    from relabel.review.batch import check_reviewer_error, plan_next
    from relabel.review.ledger import read_ledger
    from relabel.rundir import load_run

    check_project_title(project)
    if min(batch, audit, check_changes) < 0 or batch + audit + check_changes < 1:
        raise RelabelInputError(f"{option('--batch')}, {option('--audit')} and "
                                f"{option('--check-changes')} must be at least 0, and one of "
                                f"them at least 1; got {option('--batch', batch)} "
                                f"{option('--audit', audit)} "
                                f"{option('--check-changes', check_changes)}")
    check_reviewer_error(reviewer_error)
    _, scores = load_run(run_dir)
    pulled = pull(run_dir, project, credentials=credentials) \
        if _project_exists(project, credentials) else None
    plan = plan_next(run_dir, scores, read_ledger(run_dir), batch=batch, audit=audit,
                     check_changes=check_changes, reviewer_error=reviewer_error)
    changes = int(scores["suggested_label"].is_not_null().sum())
    common: dict[str, Any] = dict(remaining=plan.remaining, audit_size=plan.audit_size,
                                  check_size=plan.check_size, changes=changes,
                                  reviewer_error=plan.floor.reviewer_error,
                                  reviewer_error_source=plan.floor.source,
                                  held_back=plan.held_back)
    if not plan.ids:
        return NextResult(pulled=pulled, pushed=None, chosen=0, **common)
    # the audit's and the check's tasks hide relabel's view, so that it cannot sway them
    pushed = push(run_dir, project, ids=plan.ids, credentials=credentials, progress=progress,
                  blind=plan.blind)
    return NextResult(pulled=pulled, pushed=pushed, chosen=len(plan.ids), audited=plan.audited,
                      checked=plan.checked, **common)


@locks_run_dir("relabel review status")
def review_status(run_dir: str | Path, project: str | None = None, *,
                  reviewer_error: float | None = None,
                  credentials: Credentials | None = None) -> Any:
    """Pull the project's decisions (when ``project`` is given), then
    :func:`relabel.review.status.review_status` of the run (with ``reviewer_error``, how many
    examples are still worth a review at that error rate); the result is also appended to the
    run's ``review_rounds.jsonl`` (the history the report plots)."""
    from relabel.review.batch import check_reviewer_error
    from relabel.review.status import record_status

    check_reviewer_error(reviewer_error)
    if project is not None:
        pull(run_dir, project, credentials=credentials)
    return record_status(run_dir, reviewer_error=reviewer_error)


__all__ = ["BATCH_SIZE", "Credentials", "LabelStudioError", "NextResult", "PullResult",
           "PushResult", "pull", "push", "resolve_credentials", "review_next", "review_status"]
