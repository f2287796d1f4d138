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


def hostile_study(demo_dir: Path, dest: Path) -> Path:
    """A copy of the demo study with the payloads in its title, notice, notebook titles,
    question texts, answer labels (the first code of every scale) and indicator names;
    returns its study.yaml. The report set is the overview and the indicator pages."""
    import yaml

    def edit(name: str, change) -> None:
        path = dest / name
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(doc)
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")

    shutil.copytree(demo_dir, dest, ignore=shutil.ignore_patterns("*.duckdb*"))

    def study(doc):
        doc["title"] = "市民意識調査 " + PAYLOADS[0]
        doc["notice"] = " ".join(PAYLOADS)
        doc["report"] = {"notebooks": [{"stem": "01_overview", "title": PAYLOADS[1]},
                                       {"stem": "02_indicators", "title": PAYLOADS[4]}]}

    def codebook(doc):
        for i, q in enumerate(doc["questions"]):
            q["text"] = q.get("text", "") + " " + PAYLOADS[i % len(PAYLOADS)]
        for j, scale in enumerate(doc.get("scales", {}).values()):
            first = sorted(scale["codes"])[0]
            scale["codes"][first] = PAYLOADS[(j + 4) % len(PAYLOADS)] + scale["codes"][first]

    def indicators(doc):
        for i, item in enumerate(doc["indicators"]):
            item["name"] = PAYLOADS[i % len(PAYLOADS)] + item["name"]

    edit("study.yaml", study)
    edit("codebook.yaml", codebook)
    edit("indicators.yaml", indicators)
    return dest / "study.yaml"
