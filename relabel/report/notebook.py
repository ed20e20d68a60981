"""What a notebook shows for a run or a consensus (``_repr_html_`` of :class:`relabel.Run` and
:class:`relabel.crowd.api.Consensus`): the few numbers a user acts on, the diagnosis and
warnings, and the first rows to look at. Pure functions of a summary and frames; every value
is HTML-escaped (texts and labels are the user's data).
"""

from __future__ import annotations

from html import escape
from typing import Any

import polars as pl

#: rows of the issues / items table shown inline
SHOWN_ROWS = 10
#: characters of a text shown inline
SHOWN_CHARS = 120

_STYLE = ("<style>.relabel-nb td,.relabel-nb th{text-align:left;padding:2px 8px}"
          ".relabel-nb .warn{color:#a15c00}</style>")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    return escape(text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…")


def frame_html(frame: pl.DataFrame, columns: list[str]) -> str:
    """The first ``SHOWN_ROWS`` rows of ``frame``'s ``columns`` (those it has) as a table."""
    cols = [c for c in columns if c in frame.columns]
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r[c])}</td>" for c in cols) + "</tr>"
                   for r in frame.head(SHOWN_ROWS).iter_rows(named=True))
    return f"<table><tr>{head}</tr>{body}</table>"


def _facts(rows: list[tuple[str, Any]]) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{_cell(v)}</td></tr>"
                               for k, v in rows if v is not None) + "</table>"


def _notes(notes: list[str]) -> str:
    return "".join(f'<p class="warn">{escape(n)}</p>' for n in notes if n)


def run_html(summary: dict[str, Any], issues: pl.DataFrame, out_dir: str) -> str:
    """A run: what it found and changed, why it held back, and its most suspicious examples
    (``issues``, as :attr:`relabel.Run.issues`)."""
    from relabel.detect.decisions import passes_note

    dec = summary.get("decisions") or {}
    rate = dec.get("estimated_noise_rate")
    facts = [
        ("examples", summary.get("examples")),
        ("classes", summary.get("classes")),
        ("estimated wrong labels",
         None if rate is None else f"{dec.get('estimated_wrong_labels')} ({100 * rate:.1f}%)"),
        ("flagged for review", summary.get("flagged")),
        ("changed automatically",
         None if "changes" not in dec else
         f"{dec['changes']} (expected right {dec.get('expected_right_changes')}, "
         f"wrong {dec.get('expected_wrong_changes')}, at target precision "
         f"{dec.get('target_precision')}{passes_note(dec)})"),
        ("flags by reason", ", ".join(f"{k} {v}" for k, v in
                                      (summary.get("flagged_per_reason") or {}).items()) or None),
        ("run directory", out_dir),
    ]
    from relabel.detect.decisions import decision_notes

    notes = [*decision_notes(dec), *(summary.get("warnings") or []),
             *((summary.get("consensus") or {}).get("warnings") or [])]  # several annotators
    shown = min(SHOWN_ROWS, issues.height)
    return (f'{_STYLE}<div class="relabel-nb"><b>relabel run</b>{_facts(facts)}{_notes(notes)}'
            f"<p>most suspicious of the {issues.height} flagged examples (first {shown}; all in "
            "<code>run.issues</code>, the report in <code>run.report()</code>):</p>"
            + frame_html(issues, ["id", "text", "head", "tail", "label", "suggested_label",
                                  "confidence", "reason", "alternative_label"])
            + "</div>")


def consensus_html(summary: dict[str, Any], items: pl.DataFrame,
                   annotators: pl.DataFrame) -> str:
    """A consensus: the counts, the agreement, the items that need a human and the
    annotators, least accurate first."""
    from relabel.crowd.consensus import consensus_notes, needs_human_text

    alpha = (summary.get("agreement") or {}).get("krippendorff_alpha")
    facts = [("items", summary.get("items")), ("annotators", summary.get("annotators")),
             ("votes", summary.get("votes")),
             ("Krippendorff's alpha", None if alpha is None else round(float(alpha), 3)),
             ("need a human", needs_human_text(summary).replace(" need a human", ""))]
    review = items.filter(pl.col("needs_review")) if "needs_review" in items.columns else items
    worst = annotators.sort("accuracy") if "accuracy" in annotators.columns else annotators
    return (f'{_STYLE}<div class="relabel-nb"><b>relabel consensus</b>{_facts(facts)}'
            f"{_notes(consensus_notes(summary))}"
            f"<p>items that need a human (first {min(SHOWN_ROWS, review.height)} of "
            f"{review.height}):</p>"
            + frame_html(review, ["id", "text", "consensus_label", "quality", "agreement",
                                  "votes", "status"])
            + "<p>annotators, least accurate first:</p>"
            + frame_html(worst, ["annotator", "votes", "accuracy", "accuracy_low",
                                 "accuracy_high", "confuses"])
            + "</div>")


__all__ = ["SHOWN_CHARS", "SHOWN_ROWS", "consensus_html", "frame_html", "run_html"]
