"""The printable 報告書: one A4 PDF of the city-level report, printed by headless Chromium.

:func:`report_html` composes one HTML document from the executed city-level notebooks (their
rendered outputs only: the views' escaped HTML, tables and figures, never code): a cover, a
table of contents, then one chapter per notebook, with page numbers in the page margin
(CSS ``@page`` margin boxes) and the bundled IPAexGothic font, so Japanese text is embedded in
the PDF on any machine. :func:`print_pdf` prints it with Chromium's ``--print-to-pdf``.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from kyodo_analysis.views.page import CONTENT_SECURITY_POLICY

__all__ = ["chromium", "print_pdf", "report_html"]

_CSS = """
@font-face { font-family: "IPAexGothic"; src: url("%(font)s"); }
@page { size: A4; margin: 18mm 15mm 20mm 15mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; } }
@page :first { @bottom-center { content: none; } }
body { font-family: "IPAexGothic", sans-serif; font-size: 10pt; line-height: 1.6; color: #222; }
.cover { page-break-after: always; padding-top: 70mm; text-align: center; }
.cover h1 { font-size: 22pt; } .cover p { font-size: 12pt; }
.toc { page-break-after: always; } .toc li { margin: .3em 0; }
.chapter { page-break-before: always; }
.chapter > h1 { font-size: 16pt; border-bottom: 2px solid #0072B2; }
table { border-collapse: collapse; margin: .5em 0; font-size: 8.5pt; page-break-inside: avoid; }
th, td { border-bottom: 1px solid #ccc; padding: 2px 6px; }
img { max-width: 100%%; page-break-inside: avoid; }
h4.table-title { margin-bottom: .2em; }
.demo { background: #fff3cd; border: 1px solid #e0c36a; padding: .5em 1em; }
"""


def _font() -> str:
    import matplotlib_fontja

    return (Path(matplotlib_fontja.__file__).parent / "fonts" / "ipaexg.ttf").resolve().as_uri()


_ANCHOR = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>')


def _outputs(nb_path: Path) -> str:
    """The rendered outputs of an executed notebook (markdown cells rendered, no code)."""
    import nbformat
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(_ANCHOR.sub("", markdown2html_mistune(cell.source)))
            continue
        if "parameters" in cell.metadata.get("tags", []) or "injected-parameters" in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                parts.append(f'<img alt="" src="data:image/png;base64,{data["image/png"]}">')
            elif "text/html" in data:
                parts.append(data["text/html"])
    return "\n".join(parts)


def report_html(chapters: Sequence[tuple[int | None, str, Path]], *, title: str, subtitle: str,
                notice: str | None = None) -> str:
    """One printable document: cover, contents, a chapter per executed notebook.

    ``chapters`` are ``(number, title, executed notebook)``; the number is the page's
    ``chapter`` parameter, so 第2章 holds 表2-1, 表2-2, ... as on the page (a page that failed
    leaves its number out rather than renumbering the others)."""
    esc = html.escape
    numbered = [(n if n is not None else i, t, p)
                for i, (n, t, p) in enumerate(chapters, start=1)]
    toc = "".join(f'<li><a href="#ch{n}">第{n}章　{esc(t)}</a></li>' for n, t, _ in numbered)
    body = "".join(f'<section class="chapter" id="ch{n}"><h1>第{n}章　{esc(t)}</h1>'
                   f"{_outputs(p)}</section>" for n, t, p in numbered)
    demo = f'<p class="demo">{esc(notice)}</p>' if notice else ""
    # The page policy, plus the embedded Japanese font read from the package (file:).
    policy = CONTENT_SECURITY_POLICY.replace("font-src data:", "font-src data: file:")
    return (f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}"><title>{esc(title)}</title>'
            f"<style>{_CSS % {'font': _font()}}</style></head><body>"
            f'<div class="cover"><h1>{esc(title)}</h1><p>{esc(subtitle)}</p>{demo}</div>'
            f'<nav class="toc"><h2>目次</h2><ol style="list-style:none">{toc}</ol></nav>'
            f"{body}</body></html>")


def chromium() -> str | None:
    """The headless Chromium (or Chrome) on this machine, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: Path, pdf_path: Path, *, timeout: int = 120) -> Path:
    """Print ``html_path`` to an A4 PDF with headless Chromium.

    Raises
    ------
    RuntimeError
        When no Chromium is installed or printing fails.
    """
    exe = chromium()
    if exe is None:
        raise RuntimeError("no headless Chromium: install it (apt-get install chromium) for report.pdf")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
           "--run-all-compositor-stages-before-draw", "--virtual-time-budget=10000",
           f"--print-to-pdf={pdf_path}", Path(html_path).resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not Path(pdf_path).is_file():
        raise RuntimeError(f"Chromium did not print the PDF: {done.stderr[-500:]}")
    return Path(pdf_path)
