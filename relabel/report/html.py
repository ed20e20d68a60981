"""``relabel report``: one self-contained HTML page about a denoise run.

Figures are drawn with matplotlib (its Agg canvas, outside pyplot) and inlined as base64 PNG, so
the file opens offline and can be mailed around. Sections: summary numbers; credibility
histogram split by flagged / not flagged; flag rate per class; given x suggested confusion heat
map; the most suspicious examples with their neighbours' labels; and, when a column with true
labels is given (``truth_col``), a precision-recall curve of the ranking and the detection /
correction metrics.
"""

from __future__ import annotations

import base64
import html
import io as _io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from relabel.data.io import read_table
from relabel.data.write import write_text
from relabel.detect.decisions import decision_notes, passes_note
from relabel.errors import RelabelInputError
from relabel.outputs import suspicion_of
from relabel.rundir import RunFiles, load_record

MAX_CLASSES_SHOWN = 30

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:4px 8px;
vertical-align:top;max-width:30em}th{background:#f4f4f4}.num{text-align:right}img{max-width:100%}
.muted{color:#777}mark.head{background:#cfe3ff}mark.tail{background:#ffe2b8}
.scroll{overflow-x:auto}td.c-text{min-width:22em}td.c-id{word-break:break-all;min-width:7em;max-width:10em}
td.c-neighbor_labels{font-size:.9em;max-width:14em}
td.c-label,td.c-suggested_label,td.c-reason{min-width:7em;max-width:14em;overflow-wrap:break-word}
"""


def _subplots(**kwargs: Any) -> tuple[Any, Any]:
    """A figure and its axes outside pyplot: drawing the report never changes the caller's
    matplotlib backend or open figures (a notebook keeps its inline plots)."""
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    return fig, fig.subplots()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain(text: Any) -> str:
    """A label or text as plain characters for a plot: no mathtext (``$``), no control
    characters (matplotlib would parse ``$x$`` as math, and fail on an unbalanced ``$``)."""
    return _CONTROL.sub("\ufffd", str(text)).replace("$", r"\$")


def _cell(text: Any) -> str:
    """Text for an HTML cell: escaped (``<script>`` is shown, never run) and control
    characters, which HTML does not allow, shown as U+FFFD."""
    return html.escape(_CONTROL.sub("\ufffd", str(text)))


def _figure_tag(fig: Any, alt: str) -> str:
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)  # constrained layout: one draw, no "tight" redraw
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


#: the columns of scores.parquet the report reads (the review section's estimate needs p_wrong
#: and suggestion_confidence)
REPORT_COLUMNS = ("row", "id", "label", "credibility", "flagged", "suggested_label",
                  "suggestion_confidence", "p_wrong", "suspicion")


def _histogram(scores: pl.DataFrame) -> str:
    fig, ax = _subplots(layout="constrained", figsize=(7, 3.2))
    cred = scores["credibility"].to_numpy()
    flagged = scores["flagged"].to_numpy()
    bins = np.linspace(0, 1, 41)
    ax.hist(cred[~flagged], bins=bins, alpha=0.7, label="not flagged")
    ax.hist(cred[flagged], bins=bins, alpha=0.7, label="flagged", color="tab:red")
    ax.set_xlabel("credibility of the given label")
    ax.set_ylabel("examples")
    ax.legend()
    return _figure_tag(fig, "credibility histogram")


def _flag_rate(scores: pl.DataFrame) -> str:
    per = (scores.group_by("label").agg(pl.col("flagged").mean().alias("rate"),
                                        pl.len().alias("n"))
           .sort(["rate", "label"], descending=[True, False]).head(MAX_CLASSES_SHOWN))
    fig, ax = _subplots(layout="constrained", figsize=(7, 0.25 * per.height + 1))
    ax.barh([_plain(c) for c in per["label"].to_list()[::-1]], per["rate"].to_numpy()[::-1],
            color="tab:red")
    ax.set_xlabel("share of the class flagged")
    ax.tick_params(axis="y", labelsize=7)
    return _figure_tag(fig, "flag rate per class")


def _confusion(scores: pl.DataFrame) -> str:
    sugg = scores.filter(pl.col("suggested_label").is_not_null())
    if sugg.height == 0:
        return '<p class="muted">No suggestions in this run.</p>'
    given = sugg["label"].value_counts(sort=True)["label"].to_list()[:MAX_CLASSES_SHOWN]
    target = sugg["suggested_label"].value_counts(sort=True)["suggested_label"].to_list()[
        :MAX_CLASSES_SHOWN]
    m = np.zeros((len(given), len(target)))
    gi = {c: i for i, c in enumerate(given)}
    ti = {c: i for i, c in enumerate(target)}
    for g, t in sugg.select("label", "suggested_label").iter_rows():
        if g in gi and t in ti:
            m[gi[g], ti[t]] += 1
    # fixed margins sized for the labels: a layout engine costs a second draw here
    left = 0.1 * max(len(str(c)) for c in given) + 0.8
    bottom = 0.1 * max(len(str(c)) for c in target) + 0.8
    # at least room for the axis titles (a run with one or two suggested classes cut them)
    width = max(0.3 * len(target), 1.2) + left + 0.3
    height = max(0.3 * len(given), 0.9) + bottom + 0.3
    fig, ax = _subplots(figsize=(width, height))
    fig.subplots_adjust(left=left / width, bottom=bottom / height, right=1 - 0.3 / width,
                        top=1 - 0.3 / height)
    # the scale from 0: a single count was drawn in the palest red, its white number unseen
    ax.imshow(m, cmap="Reds", aspect="auto", vmin=0)
    for (r, c), v in np.ndenumerate(m):  # the counts themselves, instead of a colour bar
        if v:
            ax.text(c, r, str(int(v)), ha="center", va="center", fontsize=6,
                    color="white" if v > m.max() / 2 else "black")
    ax.set_xticks(range(len(target)), [_plain(c) for c in target], rotation=90, fontsize=7)
    ax.set_yticks(range(len(given)), [_plain(c) for c in given], fontsize=7)
    ax.set_xlabel("suggested label")
    ax.set_ylabel("given label")
    return _figure_tag(fig, "given x suggested confusion")


def _pr_curve(is_error: np.ndarray, score: np.ndarray) -> str:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(is_error, score)
    fig, ax = _subplots(layout="constrained", figsize=(5, 4))
    ax.plot(recall, precision)
    ax.axhline(is_error.mean(), ls="--", color="gray", label="share of wrong labels")
    ax.set_xlabel("recall of wrong labels")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.legend()
    return _figure_tag(fig, "precision-recall curve")


class _Html(str):
    """A cell already made safe HTML (escaped text with markup of ours): not escaped again."""


def _marked(text: str, spans: tuple[int, int, int, int]) -> _Html:
    """A relation's text with its head and tail marked (``<mark class=head>`` / ``tail``),
    every character of the text escaped, so a reviewer sees which pair the label is about."""
    hs, he, ts, te = spans
    cuts = sorted([(hs, he, "head"), (ts, te, "tail")])
    out, at = [], 0
    for start, end, cls in cuts:
        if not 0 <= at <= start <= end <= len(text):  # spans that do not fit: the plain text
            return _Html(_cell(text))
        out += [_cell(text[at:start]), f'<mark class="{cls}">{_cell(text[start:end])}</mark>']
        at = end
    return _Html("".join(out) + _cell(text[at:]))


def _with_entities(rows: list[dict[str, Any]], run_dir: Path) -> list[dict[str, Any]]:
    """``rows`` (suspicious examples) with the text of a relation run's rows marked at their
    head and tail spans (``examples.parquet``); other runs' rows as they are."""
    from relabel.data.task import SPAN_NAMES
    from relabel.rundir import RunFiles

    path = RunFiles(run_dir).examples
    if not rows or not path.is_file():
        return rows
    present = pl.read_parquet_schema(path)
    if not all(c in present for c in SPAN_NAMES):
        return rows
    wanted = pl.Series("row", [r["row"] for r in rows], dtype=pl.Int64)
    spans = (pl.read_parquet(path, columns=["row", *SPAN_NAMES])
             .filter(pl.col("row").is_in(wanted.implode())))
    by_row = {r[0]: r[1:] for r in spans.iter_rows()}
    return [{**r, "text": _marked(r["text"], by_row[r["row"]])}
            if r.get("row") in by_row and isinstance(r.get("text"), str) else r for r in rows]


def _read_scores(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    """The ``columns`` of a run's ``scores.parquet`` that it has (a run written by an earlier
    version may lack some, ``suspicion`` for one)."""
    present = pl.read_parquet_schema(path)
    return pl.read_parquet(path, columns=[c for c in columns if c in present])


#: columns whose cells get a class of their own (``c-<name>``), for their width: a text wide
#: enough to read beside nine other columns, a long id (MTurk's HIT ids) broken where it must
_STYLED_COLUMNS = frozenset({"text", "id", "neighbor_labels", "label", "suggested_label",
                             "reason"})


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """An HTML table of ``rows`` (one dict each) over ``columns``, in a box that scrolls
    sideways when it is wider than the page (the page itself never does)."""
    head = "".join(f"<th>{_cell(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            own = f' class="c-{c}"' if c in _STYLED_COLUMNS else ""
            if isinstance(v, _Html):
                cells.append(f"<td{own}>{v}</td>")
            elif isinstance(v, float):
                cells.append(f'<td class="num">{v:.3f}</td>')
            elif isinstance(v, list):
                cells.append(f"<td{own}>{_cell(', '.join(map(str, v)))}</td>")
            else:
                cells.append(f"<td{own}>{_cell('' if v is None else v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'


def _review_section(run_dir: Path, scores: pl.DataFrame) -> str:
    """Human review so far (``relabel review status``), with the estimated label accuracy
    across rounds; empty when nobody reviewed."""
    from relabel.review.audit import audit_message
    from relabel.review.ledger import read_ledger
    from relabel.review.samples import read_audit_size, read_check_chunks
    from relabel.review.spotcheck import check_line, check_message
    from relabel.review.status import read_rounds, run_review_status

    ledger = read_ledger(run_dir)
    rounds = read_rounds(run_dir)
    if ledger.height == 0 and not rounds and not read_audit_size(run_dir) \
            and not read_check_chunks(run_dir):
        return ""
    st = run_review_status(run_dir, scores, ledger=ledger)
    facts = [
        {"": "reviewed", "value": f"{st.reviewed} of {st.examples}"},
        {"": "wrong labels confirmed", "value": st.confirmed_errors},
        {"": "suggestions accepted / overridden",
         "value": f"{st.suggestions_accepted} / {st.suggestions_overridden}"},
        {"": "changed automatically", "value": st.automatic_changes},
        {"": "estimated wrong labels left", "value": f"{st.estimated_errors_left:.0f}"},
        {"": "estimated label accuracy",
         "value": f"{100 * st.estimated_accuracy:.1f}% (95% interval "
                  f"{100 * st.accuracy_low:.1f}–{100 * st.accuracy_high:.1f}%), from "
                  "relabel's signals"},
    ]
    a = st.audit
    if a is not None and a.decided:
        facts += [
            {"": "random audit: decided / sampled", "value": f"{a.decided} / {a.size}"},
            {"": "random audit: given labels wrong",
             "value": f"{100 * a.error_rate:.1f}% (95% interval {100 * a.error_low:.1f}–"
                      f"{100 * a.error_high:.1f}%; relabel estimated "
                      + ("n/a" if a.relabel_error_rate is None
                         else f"{100 * a.relabel_error_rate:.1f}%") + ")"
                      + ("" if a.reviewer_error is None else
                         f", corrected for the reviewers' estimated error "
                         f"{100 * a.reviewer_error:.1f}% ({a.double_reviewed} examples decided "
                         f"by two or more)")},
            {"": "random audit: wrong labels left", "value": f"{a.errors_left:.0f}"},
            {"": "random audit: label accuracy now",
             "value": f"{100 * a.accuracy_now:.1f}% (95% interval {100 * a.accuracy_low:.1f}–"
                      f"{100 * a.accuracy_high:.1f}%)"},
        ]
    warning = audit_message(a) if a is not None else None
    if warning:
        facts.append({"": "warning", "value": warning})
    if st.worth_reviewing is not None:  # the reviewers' error rate the audit measured
        facts.append({"": "still worth a review",
                      "value": f"{st.worth_reviewing} of {st.examples - st.reviewed} unreviewed "
                               f"examples are more likely wrong than the reviewers' error rate "
                               f"{100 * (st.reviewer_error or 0.0):.1f}%"})
    if st.changes is not None:
        facts.append({"": "automatic changes: spot check", "value": check_line(st.changes)})
        warning = check_message(st.changes)
        if warning:
            facts.append({"": "warning", "value": warning})
    parts = ["<h2>Human review</h2>", _table(cast(list[dict[str, Any]], facts), ["", "value"])]
    if len(rounds) >= 1:
        fig, ax = _subplots(layout="constrained", figsize=(6, 3))
        x = [r["reviewed"] for r in rounds] + [st.reviewed]
        y = [100 * r["estimated_accuracy"] for r in rounds] + [100 * st.estimated_accuracy]
        lo = [100 * r["accuracy_low"] for r in rounds] + [100 * st.accuracy_low]
        hi = [100 * r["accuracy_high"] for r in rounds] + [100 * st.accuracy_high]
        ax.fill_between(x, lo, hi, alpha=0.25, step=None)
        ax.plot(x, y, "-o")
        ax.set_xlabel("examples reviewed")
        ax.set_ylabel("estimated label accuracy %")
        parts.append(_figure_tag(fig, "estimated label accuracy across review rounds"))
    return "\n".join(parts)


#: annotators shown in the report's table and plots (most votes first)
REPORT_ANNOTATORS = 30


def _retrain_section(run_dir: Path) -> str:
    """The last ``relabel retrain`` (``retrain/retrain.json``): both models on the test set and
    the gain; empty when there is none."""
    from relabel.train.compare import points
    from relabel.train.retrain import RETRAIN_DIR

    path = run_dir / RETRAIN_DIR / "retrain.json"
    if not path.is_file():
        return ""
    r = json.loads(path.read_text(encoding="utf-8"))
    rows = [{"trained on the labels": name, "rows": r[name]["train_rows"],
             "test accuracy": f"{100 * r[name]['accuracy']:.1f}%",
             "macro F1": f"{100 * r[name]['macro_f1']:.1f}%"} for name in ("given", "cleaned")]
    gain, low, high = (points(v) for v in (r["gain"], *r["interval"]))
    return "\n".join([
        "<h2>Retrained model</h2>",
        f"<p>{r['relabelled']} labels relabelled and {r['dropped']} flagged rows left out "
        f"for the cleaned set; both models scored on {r['test_examples']} test examples "
        "(<code>relabel retrain</code>).</p>",
        _table(rows, ["trained on the labels", "rows", "test accuracy", "macro F1"]),
        f"<p>gain {gain:+.1f} points, 95% interval {low:+.1f} to {high:+.1f} (paired "
        "bootstrap over the test examples)</p>",
        _retrain_classes(r.get("per_class") or [])])


def _retrain_classes(per_class: list[dict[str, Any]]) -> str:
    """``retrain.json``'s ``per_class``: each test class's accuracy under both models with the
    interval of its change, its F1, and the training labels moved to and from it; largest
    gain first (empty for one model)."""
    from relabel.train.compare import points

    if not per_class:
        return ""
    rows = [{"class": k["label"], "test examples": k["test_examples"],
             "accuracy, as given": f"{100 * k['accuracy_given']:.1f}%",
             "accuracy, cleaned": f"{100 * k['accuracy_cleaned']:.1f}%",
             "change (95% interval)": f"{points(k['gain']):+.1f} ({points(k['gain_low']):+.1f} "
                                      f"to {points(k['gain_high']):+.1f})",
             "F1, as given → cleaned": f"{100 * k['f1_given']:.1f} → "
                                        f"{100 * k['f1_cleaned']:.1f}",
             "training labels moved to / from": f"{k['relabelled_to']} / {k['relabelled_from']}",
             "dropped": k["dropped"]} for k in per_class]
    return "\n".join([
        "<p>Per class: the share of each class's test examples each model got right, and the "
        "change in points with its paired-bootstrap interval. A class with few test examples "
        "moves by chance, and among many classes a few intervals miss 0 by chance too.</p>",
        _table(rows, list(rows[0]))])


def _annotator_section(run_dir: Path) -> str:
    """Several annotators per item (``relabel consensus``, ``denoise --annotations``): the
    agreement figures, the annotator table and their estimated accuracy with intervals; empty
    for a run with one label per example."""
    from relabel.crowd.consensus import consensus_notes, needs_human_text

    files = RunFiles(run_dir)
    if not (files.annotators.is_file() and files.agreement.is_file()):
        return ""
    summary = json.loads(files.agreement.read_text(encoding="utf-8"))
    agree = summary.get("agreement", {})
    annotators = pl.read_csv(files.annotators).sort("votes", descending=True)

    def num(x: Any) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    per_item = agree.get("votes_per_item", {})
    fleiss_on = agree.get("fleiss_on", {})
    facts = [
        {"": "items / annotators / votes",
         "value": f"{summary['items']} / {summary['annotators']} / {summary['votes']}"},
        {"": "votes per item (min / median / max)",
         "value": f"{per_item.get('min')} / {per_item.get('median')} / {per_item.get('max')}"},
        {"": "Krippendorff's alpha (nominal)", "value": num(agree.get("krippendorff_alpha"))},
        {"": "Fleiss' kappa", "value": f"{num(agree.get('fleiss_kappa'))} (items with "
                                       f"{fleiss_on.get('votes_per_item')} votes: "
                                       f"{fleiss_on.get('items')})"},
        {"": "Cohen's kappa, median over pairs",
         "value": f"{num(agree.get('cohen_kappa_median'))} "
                  f"({agree.get('cohen_kappa_pairs')} pairs)"},
        {"": "unanimous items", "value": num(agree.get("unanimous"))},
        {"": "consensus differs from the majority vote",
         "value": summary.get("differs_from_majority")},
        {"": "items that need a human",
         "value": needs_human_text(summary).replace(" need a human", "")},
        {"": "model annotator", "value": "yes" if summary.get("model") else "no (no text)"},
    ]
    shown = annotators.head(REPORT_ANNOTATORS)
    notes = "".join(f"<p>{_cell(line)}</p>" for line in consensus_notes(summary))
    parts = ["<h2>Annotators</h2>", _table(facts, ["", "value"]), notes,
             _table(shown.to_dicts(), ["annotator", "votes", "accuracy", "accuracy_low",
                                       "accuracy_high", "agreement_with_consensus",
                                       "mean_kappa", "confuses"])]
    if shown.height:
        fig, ax = _subplots(layout="constrained", figsize=(7, 0.25 * shown.height + 1.2))
        acc = shown["accuracy"].to_numpy()
        lo = np.clip(acc - shown["accuracy_low"].to_numpy(), 0, None)
        hi = np.clip(shown["accuracy_high"].to_numpy() - acc, 0, None)
        ys = np.arange(shown.height)
        ax.errorbar(acc, ys, xerr=[lo, hi], fmt="o", capsize=2)
        ax.set_yticks(ys, [_plain(a) for a in shown["annotator"].to_list()], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("estimated accuracy (95% interval)")
        parts.append(_figure_tag(fig, "estimated accuracy of each annotator"))
    return "\n".join(parts)


@dataclass(frozen=True)
class TruthCheck:
    """A run's flags and changes against true labels from a column of its input.

    Attributes
    ----------
    column : str
        The input column the true labels came from.
    is_error : np.ndarray
        ``(N,)`` bool, the given label is wrong (scores' row order).
    suspicion : np.ndarray
        ``(N,)`` the ranking scored: ``scores``' ``suspicion`` (``1 - credibility`` for a run
        written before it existed).
    metrics : dict
        :func:`~relabel.metrics.detection_metrics` and
        :func:`~relabel.metrics.correction_metrics`: ``ap``, ``auroc``, ``precision``,
        ``recall``, ``f1``, ``acc_before``, ``acc_after``, ``n_changed``, ``fixed``,
        ``damage``, ...
    """

    column: str
    is_error: np.ndarray
    suspicion: np.ndarray
    metrics: dict[str, float]

    def line(self) -> str:
        """One line for a terminal: the errors, the ranking and what the changes did."""
        m, n = self.metrics, len(self.is_error)
        ap = "n/a" if np.isnan(m["ap"]) else f"{m['ap']:.3f}"
        return (f"against '{self.column}': {int(self.is_error.sum())} of {n} given labels "
                f"wrong; AP {ap}, flags {100 * m['precision']:.1f}% precise"
                if not np.isnan(m["precision"]) else
                f"against '{self.column}': {int(self.is_error.sum())} of {n} given labels "
                f"wrong; AP {ap}, nothing flagged") + (
                f"; applying the {m['n_changed']} changes: {m['acc_before']:.1f}% -> "
                f"{m['acc_after']:.1f}% right ({m['fixed']} fixed, {m['damage']} made wrong)")


def check_against_truth(run_dir: str | Path, truth_col: str,
                        scores: pl.DataFrame | None = None) -> TruthCheck:
    """The run's flags and automatic changes against the true labels in ``truth_col`` of its
    input (a dotted path for a nested field); ``scores`` when the caller holds them.

    Raises
    ------
    RelabelInputError
        ``truth_col`` is not in the input.
    """
    from relabel.data.columns import expose
    from relabel.metrics import correction_metrics, detection_metrics

    run = load_record(run_dir)
    if scores is None:
        scores = _read_scores(RunFiles(Path(run_dir)).scores,
                              ("row", "label", "credibility", "flagged", "suggested_label",
                               "suspicion"))
    from relabel.data.column_hints import require_columns

    # a run on several annotators' votes: the user's file of one row per item, whose own
    # columns (a gold `label` among them) the table of items replaced by the consensus
    origin = run.read_origin()
    table = expose(origin if origin is not None
                   else read_table(run.input, encoding=run.spec.encoding)[0], [truth_col])
    require_columns(table, [truth_col], path=run.input if origin is None else run.data_file,
                    options={truth_col: "--truth-col"})
    truth_labels = table[truth_col].cast(pl.String)
    if run.spec.label_names:  # codes, as the labels were: compared by name
        truth_labels = truth_labels.replace(dict(run.spec.label_names))
    truth = truth_labels.to_numpy()[scores["row"].to_numpy()]
    given = scores["label"].to_numpy()
    new = np.where(scores["suggested_label"].is_null().to_numpy(), given,
                   scores["suggested_label"].to_numpy())
    is_error = given != truth
    suspicion = suspicion_of(scores)
    det = detection_metrics(is_error, suspicion, scores["flagged"].to_numpy())
    cor = correction_metrics(given, truth, new, scores["flagged"].to_numpy())
    return TruthCheck(truth_col, is_error, suspicion, {**det, **cor})


def _truth_section(check: TruthCheck) -> str:
    rows = [{"metric": k, "value": float(v)} for k, v in check.metrics.items()]
    parts = ["<h2>Against the true labels</h2>",
             f"<p>True labels from column <code>{_cell(check.column)}</code>: "
             f"{int(check.is_error.sum())} of {len(check.is_error)} given labels are "
             "wrong.</p>",
             _table(rows, ["metric", "value"])]
    if check.is_error.any() and (~check.is_error).any():
        parts.append(_pr_curve(check.is_error, check.suspicion))
    return "\n".join(parts)


def build_report(run_dir: str | Path, *, truth_col: str | None = None,
                 to: str | Path | None = None, scores: pl.DataFrame | None = None,
                 truth: TruthCheck | None = None) -> Path:
    """Write the HTML report of a denoise run; returns its path (default ``DIR/report.html``).

    ``scores`` is the run's scores frame when the caller holds it already (``denoise``), so it
    is not read a second time; by default the columns the report needs are read from
    ``scores.parquet``. ``truth``: :func:`check_against_truth` of ``truth_col`` when the
    caller computed it already (``relabel report`` prints its line too).

    Raises
    ------
    RelabelInputError
        ``run_dir`` is not a denoise output directory, or ``truth_col`` is not in the input.
    """
    from relabel.paths import PathArg, check_paths

    run_dir = Path(run_dir)
    files = RunFiles(run_dir)
    check_paths([PathArg("DIR", run_dir, "run_dir"),
                 PathArg("--to", to, "output_file",
                         protect=tuple(p for p in files.owned() if p != files.report))])
    for f in (files.scores, files.summary, files.run):
        if not f.exists():
            raise RelabelInputError(f"no {f.name} here; run `relabel denoise` first",
                                    path=run_dir)
    # a second whole copy of the scores was the run's largest memory peak at millions of rows:
    # denoise passes its own, and a read takes only the columns the sections use
    if scores is None:
        scores = _read_scores(files.scores, REPORT_COLUMNS)
    summary = json.loads(files.summary.read_text())
    run = load_record(run_dir)
    suspicious_path = files.suspicious
    suspicious = _with_entities(pl.read_parquet(suspicious_path).head(50).to_dicts()
                                if suspicious_path.exists() else [], Path(run_dir))
    n, flagged = summary["examples"], summary["flagged"]
    facts = [
        {"": "examples", "value": n}, {"": "classes", "value": summary["classes"]},
        {"": "flagged", "value": f"{flagged} ({100 * flagged / max(n, 1):.1f}%)"},
        {"": "with a suggested label", "value": summary["suggested"]},
        {"": "left for a human", "value": summary["abstained"]},
        *[{"": f"flagged: {k}", "value": v}
          for k, v in (summary.get("flagged_per_reason") or {}).items()],
        {"": "corrector", "value": summary.get("corrector", {}).get("name", "none")},
        {"": "input", "value": run.data_file},
    ]
    dec = summary.get("decisions")
    if dec:
        facts[3:3] = [
            {"": "estimated noise rate",
             "value": ("not estimated" if dec.get("estimated_noise_rate") is None
                       else f"{100 * dec['estimated_noise_rate']:.1f}%")},
            {"": f"changed at target precision {dec['target_precision']:g}",
             "value": f"{dec['changes']} (expected {dec['expected_right_changes']:.0f} right, "
                      f"{dec['expected_wrong_changes']:.0f} wrong{passes_note(dec)})"},
        ]
        for note in reversed(decision_notes(dec)):
            facts.insert(3, {"": "warning", "value": note})
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>relabel report: {_cell(Path(run.data_file).name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>relabel report: {_cell(Path(run.data_file).name)}</h1>",
        _table(facts, ["", "value"]),
        "<h2>Credibility</h2>", _histogram(scores),
        "<h2>Flag rate per class</h2>", _flag_rate(scores),
        "<h2>Given label × suggested label</h2>", _confusion(scores),
        "<h2>Most suspicious examples</h2>",
        *(['<p class="muted">Each label is about a pair: the <mark class="head">head</mark> '
           'and the <mark class="tail">tail</mark> entity.</p>']
          if any(isinstance(r.get("text"), _Html) for r in suspicious) else []),
        _table(suspicious, ["row", "id", "text", "label", "suspicion", "credibility", "reason",
                            "suggested_label", "suggestion_confidence", "neighbor_labels"]),
    ]
    for section in (_annotator_section(run_dir), _review_section(run_dir, scores),
                    _retrain_section(run_dir)):
        if section:
            parts.append(section)
    if truth_col and truth is None:
        truth = check_against_truth(run_dir, truth_col, scores)
    if truth is not None:
        parts.append(_truth_section(truth))
    # marks how many images decoded, and whether the page is wider than the window (its
    # tables scroll in their own box instead), so a headless browser can check it (tests)
    parts.append("<script>window.addEventListener('load',function(){var i=[].slice.call("
                 "document.images);document.body.setAttribute('data-images-total',i.length);"
                 "document.body.setAttribute('data-images-loaded',i.filter(function(x){"
                 "return x.complete&&x.naturalWidth>0}).length);"
                 "document.body.setAttribute('data-page-wider',String(document.documentElement"
                 ".scrollWidth>document.documentElement.clientWidth))});</script>")
    parts.append("</body></html>")
    target = Path(to) if to is not None else files.report
    write_text("\n".join(parts), target)
    return target
