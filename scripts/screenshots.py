#!/usr/bin/env python
"""Screenshots of a report page in a real browser (headless Chromium) and a horizontal-overflow check.

Usage (from the repository root):

    python scripts/screenshots.py                              # reports/reference -> reports/screenshots/
    python scripts/screenshots.py --report reports/latest --out /tmp/shots --anchors c3,c6
    python scripts/screenshots.py --check-only                 # overflow check, no PNGs

For each width (1280, 760 and 390 px: desktop, tablet, phone) it writes ``<width>px_top.png`` and one
``<width>px_<anchor>.png`` per anchor, and checks the laid-out page twice (as shown, and with every
``<details>`` opened): no element may stick out of the viewport unless it is inside a scroll box
(``.scroll``) that shows a scroll hint (edge shadows always; below 900 px also the text hint). The
overflow check runs on a copy of the report in a temporary directory with a small measuring script
added; the report itself is never modified.

Exit status: 0 when no width has an unhinted overflow, 1 when one has (the offenders are printed), 2
when Chromium is not installed (Debian: ``apt-get install chromium``) or the report is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (1280, 760, 390)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--force-device-scale-factor=1"]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Runs in the page: records every element wider than the viewport outside a hinted scroll box.
_PROBE = r"""
<script>
function altfProbe(openAll) {
  document.querySelectorAll('details').forEach(d => { d.open = openAll; });
  const W = document.documentElement.clientWidth;
  const out = {width: W, scrollWidth: document.documentElement.scrollWidth, offenders: [], scrollBoxes: 0,
               overflowingBoxes: 0, unhinted: []};
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') +
      ' in ' + ((el.closest('section') || {}).id || 'page');
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const box = el.closest('.scroll');
    if (box && box !== el) continue;
    if (r.right > W + 1 || r.left < -1) out.offenders.push(name(el) + ' (' + Math.round(r.left) + '..' +
                                                          Math.round(r.right) + ' px)');
  }
  for (const box of document.querySelectorAll('.scroll')) {
    if (box.getBoundingClientRect().width === 0) continue;
    out.scrollBoxes++;
    if (box.scrollWidth <= box.clientWidth + 1) continue;
    out.overflowingBoxes++;
    const shadow = getComputedStyle(box).backgroundImage.includes('gradient');
    const prev = box.previousElementSibling;
    const text = prev && prev.classList.contains('hint') && getComputedStyle(prev).display !== 'none';
    if (!shadow || (W < 900 && !text)) out.unhinted.push(name(box));
  }
  return out;
}
window.addEventListener('load', () => {
  const res = {shown: altfProbe(false), opened: altfProbe(true)};
  parent.postMessage(JSON.stringify(res), '*');
});
</script>
"""
# Chromium's window is at least 500 px wide, so the page is laid out in an iframe of the exact width; the
# probe in the page posts its findings to this wrapper, whose DOM --dump-dom prints.
_WRAPPER = """<!DOCTYPE html><html><head><meta charset='utf-8'><style>body{margin:0}iframe{border:0}</style></head>
<body><iframe src='index.html' style='width:%dpx;height:900px'></iframe><pre id='alft-probe'></pre>
<script>window.addEventListener('message', e => { document.getElementById('alft-probe').textContent = e.data; });
</script></body></html>
"""


def find_browser() -> str | None:
    """The Chromium executable on PATH, or None."""
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def _chromium(browser: str, args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="alft-chromium-profile-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def screenshot(browser: str, page: Path, png: Path, width: int, height: int, anchor: str = "") -> None:
    """One PNG of ``page`` laid out ``width`` px wide (scrolled to ``#anchor`` when given), ``height`` px tall.

    The page is shown in an iframe of exactly that size (Chromium's window is at least 500 px wide) and the
    window's screenshot is cropped to it.
    """
    from PIL import Image

    target = page.name + (f"#{anchor}" if anchor else "")
    with tempfile.TemporaryDirectory(prefix="alft-shot-") as tmp:
        wrapper = page.parent / f".alft_shot_{os.getpid()}_{width}_{anchor or 'top'}.html"
        raw = Path(tmp) / "raw.png"
        try:
            wrapper.write_text(_FRAME % (width, height, target))
            res = _chromium(browser, [f"--window-size={max(width, 500)},{height}", f"--screenshot={raw}",
                                      "--virtual-time-budget=8000", wrapper.as_uri()])
        finally:
            wrapper.unlink(missing_ok=True)
        if not raw.exists():
            raise RuntimeError(f"chromium wrote no screenshot of {target} at {width} px: {res.stderr.strip()[-500:]}")
        with Image.open(raw) as im:
            im.crop((0, 0, width, height)).save(png)


_FRAME = """<!DOCTYPE html><html><head><meta charset='utf-8'><style>body{margin:0}iframe{border:0;display:block}
</style></head><body><iframe style='width:%dpx;height:%dpx' src='%s'></iframe></body></html>
"""


def check_overflow(browser: str, report: Path, width: int) -> dict:
    """Lay the page out at ``width`` px and return the probe's findings (as shown and all details opened)."""
    with tempfile.TemporaryDirectory(prefix="alft-overflow-") as tmp:
        copy = Path(tmp) / "report"
        shutil.copytree(report, copy, ignore=shutil.ignore_patterns("*.csv", "results.json"))
        page = copy / "index.html"
        text = page.read_text()
        page.write_text(text.replace("</body>", _PROBE + "</body>", 1))
        wrapper = copy / "alft_probe_wrapper.html"
        wrapper.write_text(_WRAPPER % width)
        res = _chromium(browser, [f"--window-size={max(width, 500) + 20},1000", "--virtual-time-budget=8000",
                                  "--dump-dom", wrapper.as_uri()])
    m = re.search(r"<pre id=\"alft-probe\">(.+?)</pre>", res.stdout, re.S)
    if not m:
        raise RuntimeError(f"the overflow probe did not run at {width} px: {res.stderr.strip()[-500:]}")
    import html
    return json.loads(html.unescape(m.group(1)))


def problems(found: dict) -> list[str]:
    """Human-readable problems of one width's findings (empty when the page fits or scrolls with a hint)."""
    out = []
    for state, f in found.items():
        if f["scrollWidth"] > f["width"] + 1:
            out.append(f"{state}: the page is {f['scrollWidth']} px wide in a {f['width']} px viewport")
        out += [f"{state}: sticks out of the viewport: {o}" for o in f["offenders"][:20]]
        out += [f"{state}: scroll box without a visible hint: {u}" for u in f["unhinted"][:20]]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="exit status: 0 no unhinted overflow, 1 overflow found, 2 no browser or report")
    ap.add_argument("--report", default=str(ROOT / "reports" / "reference"),
                    help="report directory holding index.html (default: reports/reference)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "screenshots"),
                    help="where the PNGs go (default: reports/screenshots, git-ignored)")
    ap.add_argument("--widths", default=",".join(map(str, WIDTHS)), help="comma-separated widths in px "
                                                                         "(default: 1280,760,390)")
    ap.add_argument("--anchors", default="summary,c3,c6,c8", help="sections to screenshot besides the top "
                                                                  "(default: summary,c3,c6,c8)")
    ap.add_argument("--height", type=int, default=1400, help="screenshot height in px (default: 1400)")
    ap.add_argument("--check-only", action="store_true", help="only the overflow check, no PNGs")
    args = ap.parse_args(argv)
    browser = find_browser()
    if browser is None:
        print("screenshots: no Chromium found (tried " + ", ".join(BROWSERS) + "); Debian: apt-get install chromium",
              file=sys.stderr)
        return 2
    report = Path(args.report)
    if not (report / "index.html").exists():
        print(f"screenshots: {report}/index.html does not exist; run alft report first", file=sys.stderr)
        return 2
    widths = [int(w) for w in args.widths.split(",") if w.strip()]
    anchors = [a.strip() for a in args.anchors.split(",") if a.strip()]
    out = Path(args.out)
    bad = 0
    tmp = tempfile.TemporaryDirectory(prefix="alft-shots-")
    work = Path(tmp.name) / "report"   # screenshots are taken of a copy: the report is never written to
    shutil.copytree(report, work, ignore=shutil.ignore_patterns("*.csv", "results.json"))
    for w in widths:
        found = check_overflow(browser, report, w)
        probs = problems(found)
        s = found["shown"]
        print(f"{w:5d} px: page width {s['scrollWidth']} px, {s['overflowingBoxes']}/{s['scrollBoxes']} scroll boxes "
              f"overflow (hinted), {len(probs)} problems")
        for p in probs:
            print("        " + p)
        bad += bool(probs)
        if args.check_only:
            continue
        out.mkdir(parents=True, exist_ok=True)
        for anchor in [""] + anchors:
            png = out / f"{w}px_{anchor or 'top'}.png"
            screenshot(browser, work / "index.html", png, w, args.height, anchor)
            print(f"        wrote {os.path.relpath(png)}")
    tmp.cleanup()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
