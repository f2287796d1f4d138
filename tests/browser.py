"""Open a page in headless Chromium: its DOM after load and the console messages it logged."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

#: Payloads that announce themselves on the console (and open a dialog) if they ever run.
PAYLOADS = (
    '<script>console.log("XSS-script");alert("XSS-script")</script>',
    "<img src=x onerror=\"console.log('XSS-img');alert('XSS-img')\">",
    "[リンク](javascript:console.log('XSS-link'))",
    '<a href="javascript:console.log(\'XSS-href\')">押す</a>',
    '=HYPERLINK("http://example.invalid/","XSS-formula")',
    "\"><svg onload=console.log('XSS-svg')>",
)


def open_page(page: Path, tmp: Path) -> tuple[str, list[str]]:
    """``(dom, console)``: the serialised DOM and every console line Chromium logged."""
    proc = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.scripts = 0
        self.handlers: list[tuple[str, str]] = []
        self.js_links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action", "formaction") and value and \
                    value.strip().lower().startswith("javascript:"):
                self.js_links.append(value)

    def handle_data(self, data):
        self.text.append(data)


def parse(dom: str) -> _Dom:
    parser = _Dom()
    parser.feed(dom)
    return parser
