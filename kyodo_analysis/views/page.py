"""Page furniture for the report notebooks: opening a report, headings, notes, demo banner.

Everything a notebook shows that comes from the study or the data passes through here on its
way out and is escaped once (:func:`html.escape`): notebooks never build HTML or Markdown from
study content with f-strings.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from kyodo_analysis.calendar import fiscal_year_label, parse_fiscal_year

__all__ = ["CONTENT_SECURITY_POLICY", "Counter", "Report", "csp_meta", "heading", "note", "notes",
           "open_report", "paragraph", "table_heading"]

#: The policy of every published page: the report runs no script at all (tables and figures
#: are static HTML and embedded images), so a script that reached a page by mistake is blocked
#: by the browser as well as escaped here. Styles are inline, images and fonts embedded.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'none'; object-src 'none'; "
                           "style-src 'unsafe-inline'; img-src data:; font-src data:; "
                           "base-uri 'none'; form-action 'none'")


def csp_meta() -> str:
    """The ``<meta http-equiv="Content-Security-Policy">`` tag for the head of a page."""
    return f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'

_NOTE_STYLE = "background:#f4f6f8;border-left:4px solid #90a4ae;padding:.5em 1em"
_DEMO_STYLE = "background:#fff3cd;border:1px solid #e0c36a;padding:.5em 1em"


class _Html:
    """A fragment of trusted HTML that Jupyter renders (``_repr_html_``)."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:  # plain-text fallback (e.g. nbconvert to text)
        return self.markup


@dataclass(frozen=True)
class Report:
    """What a report notebook works on: the study and the fiscal year, parsed once."""

    study: object
    fiscal_year: int

    @property
    def label(self) -> str:
        return fiscal_year_label(self.fiscal_year)

    def header(self, subtitle: str) -> _Html:
        """The page title (study title, fiscal year, subtitle) and, for a demo, its banner."""
        s = self.study
        parts = [f"<h1>{html.escape(s.title)}</h1>",
                 f"<h2>{html.escape(self.label)} {html.escape(subtitle)}</h2>"]
        if s.notice or s.demo:
            tag = "<b>デモデータ</b>: " if s.demo else ""
            parts.append(f'<p style="{_DEMO_STYLE}">{tag}{html.escape(s.notice or "")}</p>')
        return _Html("\n".join(parts))

    def missing(self, section: str) -> _Html | None:
        """The note for a section whose input the study lacks, or ``None`` if it has it."""
        text = self.study.missing_inputs().get(section)
        return note(text) if text else None


def open_report(study: str | None, fiscal_year: int | str) -> Report:
    """Open the study (``""``: the demo) and check the fiscal year (2025, FY2025, 令和7年度,
    R7 ...; ``""``: the latest wave) against its waves."""
    from kyodo_analysis.study import open_study

    s = open_study(study or None)
    if fiscal_year in ("", None):
        return Report(s, max(s.fiscal_years))
    fy = s.wave(parse_fiscal_year(fiscal_year)).fiscal_year
    return Report(s, fy)


def heading(text: str, level: int = 3) -> _Html:
    """A heading whose text is study content (escaped)."""
    return _Html(f"<h{level}>{html.escape(text)}</h{level}>")


def paragraph(text: str, *, bold: bool = False) -> _Html:
    body = html.escape(text)
    return _Html(f"<p><b>{body}</b></p>" if bold else f"<p>{body}</p>")


def note(text: str) -> _Html:
    """A boxed note (what a section needs, why something is not shown)."""
    return _Html(f'<p style="{_NOTE_STYLE}">{html.escape(text)}</p>')



def table_heading(number: str, title: str) -> _Html:
    """A numbered table title (「表3　…」); the title is study content (escaped)."""
    return _Html(f'<h4 class="table-title">{html.escape(number)}　{html.escape(title)}</h4>')


def notes(lines) -> _Html:
    """Footnotes under a table (each escaped)."""
    body = "".join(f"<li>{html.escape(str(t))}</li>" for t in lines if t)
    return _Html(f'<ul class="table-notes" style="font-size:.9em;color:#444">{body}</ul>')


class Counter:
    """Numbers 表 and 図 in order on a page: ``c.table()`` → 「表1」, ``c.figure()`` → 「図1」.

    With the page's ``chapter`` (the notebook parameter that ``kyodo report`` sets to the
    page's chapter number in the printed report) the numbers are 「表2-1」, 「図2-1」, so a
    number is unique across the report, the PDF and the 目次 of tables.xlsx.
    """

    def __init__(self, chapter: int | str | None = None) -> None:
        self.prefix = f"{chapter}-" if chapter not in (None, "") else ""
        self.tables = 0
        self.figures = 0

    def table(self) -> str:
        self.tables += 1
        return f"表{self.prefix}{self.tables}"

    def figure(self) -> str:
        self.figures += 1
        return f"図{self.prefix}{self.figures}"
