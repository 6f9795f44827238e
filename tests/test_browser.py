"""The headline HTML report, rendered by a real browser (Debian's headless Chromium).

`kb compare kaplan2020 hoffmann2022 --html FILE` is opened in /usr/bin/chromium; the
screenshots land in the test's tmp_path (their paths are printed, so CI logs name the
artefacts). Checked: the PNGs are not blank, the two SVG plots are drawn (pixels of the line
colours #1f77b4 / #d62728 inside the plots' boxes, measured in the same browser), the <svg>
and <math> elements survive HTML parsing, the browser logs no console errors, and the report
is self-contained (no external scripts, stylesheets or javascript: links).

When /usr/bin/chromium is missing the tests skip loudly, except under CI=true, where they
fail: .ci/run installs Debian's `chromium`. PNGs are decoded here with zlib + struct + numpy.
"""

import json
import os
import re
import struct
import subprocess
import sys
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

KB = Path(sys.executable).parent / "kb"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
WIDTH = 1200
LINE_COLOURS = {"#1f77b4": (0x1F, 0x77, 0xB4), "#d62728": (0xD6, 0x27, 0x28)}
MAX_SCREEN = 16000  # Chromium's largest sensible window height, in CSS px


# ----------------------------------------------------------------------------- PNG, by hand


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit greyscale/RGB/RGBA non-interlaced PNG as an (H, W, channels) uint8 array.

    Unfiltering runs along anti-diagonals (pixel (r, x) needs (r, x-1), (r-1, x), (r-1, x-1)),
    so every step is one numpy operation over up to min(H, W) pixels.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + chunk) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, colour, _compression, _filter, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = width * channels + 1
    if raw.size != stride * height:
        raise ValueError(f"IDAT holds {raw.size} bytes, expected {stride * height}")
    rows = raw.reshape(height, stride)
    filters = rows[:, 0].astype(np.int64)
    if filters.max(initial=0) > 4:
        raise ValueError(f"unknown filter type {filters.max()}")
    cur = rows[:, 1:].reshape(height, width, channels).astype(np.int64)
    out = np.zeros((height + 1, width + 1, channels), dtype=np.int64)  # zero row above, zero column left
    for d in range(height + width - 1):
        r = np.arange(max(0, d - width + 1), min(height - 1, d) + 1)
        x = d - r
        a, b, c = out[r + 1, x], out[r, x + 1], out[r, x]  # left, up, up-left
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        f = filters[r][:, None]
        pred = np.select([f == 1, f == 2, f == 3, f == 4], [a, b, (a + b) // 2, paeth], 0)
        out[r + 1, x + 1] = (cur[r, x] + pred) & 0xFF
    return out[1:, 1:].astype(np.uint8)


@lru_cache(maxsize=4)
def decode_file(path: Path) -> np.ndarray:
    img = decode_png(Path(path).read_bytes())
    img.setflags(write=False)
    return img


def encode_png(img: np.ndarray, filters) -> bytes:
    """A PNG of an (H, W, 3|4) uint8 array with the given filter per row (to test decode_png)."""
    height, width, channels = img.shape
    px = img.astype(np.int64)
    lines = []
    for y in range(height):
        row = px[y]
        left = np.vstack([np.zeros((1, channels), np.int64), row[:-1]])
        up = px[y - 1] if y else np.zeros_like(row)
        upleft = np.vstack([np.zeros((1, channels), np.int64), up[:-1]])
        p = left + up - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        f = filters[y % len(filters)]
        pred = [np.zeros_like(row), left, up, (left + up) // 2, paeth][f]
        lines.append(bytes([f]) + ((row - pred) & 0xFF).astype(np.uint8).tobytes())

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    colour = {3: 2, 4: 6}[channels]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(lines))) + chunk(b"IEND", b""))


def colour_mask(img: np.ndarray, rgb, tol: int = 12) -> np.ndarray:
    return (np.abs(img[..., :3].astype(np.int16) - np.array(rgb, dtype=np.int16)) <= tol).all(axis=-1)


def non_white(img: np.ndarray) -> np.ndarray:
    return (img[..., :3] < 235).any(axis=-1)


# ----------------------------------------------------------------------------- the browser


def _chromium_or_skip() -> Path:
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = (f"{CHROMIUM} is missing: the HTML report was NOT checked in a browser "
              f"(apt-get install chromium)")
    print("\n" + "!" * 78 + f"\n!!! {reason}\n" + "!" * 78, file=sys.stderr)
    if IN_CI:
        pytest.fail(f"CI=true and {reason}; .ci/run must install it")
    pytest.skip(f"!!! {reason}")


def run_chromium(url: str, workdir: Path, *extra: str, height: int = 3000) -> subprocess.CompletedProcess:
    """One headless Chromium run with a fresh profile; stderr carries the browser's log."""
    browser = _chromium_or_skip()
    profile = workdir / f"profile-{len(list(workdir.glob('profile-*')))}"
    profile.mkdir(parents=True)
    cmd = [str(browser), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", f"--window-size={WIDTH},{height}", *extra, url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"chromium exited {r.returncode}:\n{r.stderr[-3000:]}"
    return r


def console_problems(stderr: str, page_url: str) -> "list[str]":
    """Console messages from the page, and uncaught errors (Chromium logs them as CONSOLE lines)."""
    bad = []
    for line in stderr.splitlines():
        if "Uncaught" in line or "ERROR:CONSOLE" in line:
            bad.append(line)
        elif re.search(r":CONSOLE[:(\]]", line) and (page_url in line or "source: file://" in line):
            bad.append(line)  # a static report has no business logging anything
    return bad


MEASURE = """<script>
(function () {
  function box(e) { var b = e.getBoundingClientRect(); return [b.left + scrollX, b.top + scrollY, b.width, b.height]; }
  var maths = Array.from(document.querySelectorAll('math'));
  var out = {height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
             svgs: Array.from(document.querySelectorAll('svg')).map(box), maths: maths.map(box),
             mathml: maths.every(function (m) { return typeof MathMLElement !== 'undefined' && m instanceof MathMLElement; }),
             svg_ns: Array.from(document.querySelectorAll('svg')).every(function (s) { return s instanceof SVGSVGElement; }),
             formula_overflow: Array.from(document.querySelectorAll('.formula')).filter(function (e) {
               var oy = getComputedStyle(e).overflowY;  /* scrollable, hence a scrollbar without --hide-scrollbars */
               return (oy === 'auto' || oy === 'scroll') && e.scrollHeight > e.clientHeight; }).map(function (e) { return e.textContent.trim().slice(0, 40); })};
  var pre = document.createElement('pre'); pre.id = 'kb-measure'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def without_csp(html: str) -> str:
    """A probe's copy of a report: its own measuring script must run, so the page's CSP goes."""
    return re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    path = out / "kaplan-vs-chinchilla.html"
    env = {**os.environ, "KB_DATABASE_URL": f"sqlite:///{out / 'kb.sqlite'}"}
    r = subprocess.run([str(KB), "compare", "kaplan2020", "hoffmann2022", "--html", str(path)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert path.is_file() and path.stat().st_size > 1000
    return path


@pytest.fixture(scope="module")
def layout(report, tmp_path_factory) -> dict:
    """Where the browser puts the page's <svg> and <math> elements (measured on a copy of the report
    with a script appended; the screenshots are of the untouched report)."""
    work = tmp_path_factory.mktemp("measure")
    probe = work / "probe.html"
    html = report.read_text(encoding="utf-8")
    assert "</body>" in html
    probe.write_text(without_csp(html).replace("</body>", MEASURE + "</body>", 1), encoding="utf-8")
    r = run_chromium(probe.as_uri(), work, "--dump-dom")
    m = re.search(r'<pre id="kb-measure">(.*?)</pre>', r.stdout, re.S)
    assert m, "the measuring script did not run:\n" + r.stderr[-2000:]
    data = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    data["dom"] = r.stdout
    return data


@pytest.fixture(scope="module")
def shots(report, layout, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("shots")
    top = work / "report-1200x3000.png"
    r_top = run_chromium(report.as_uri(), work, f"--screenshot={top}", height=3000)
    full_height = min(int(layout["height"]) + 10, MAX_SCREEN)
    full = work / f"report-1200x{full_height}-full.png"
    r_full = run_chromium(report.as_uri(), work, f"--screenshot={full}", height=full_height)
    print(f"\nscreenshot (top): {top}\nscreenshot (full page): {full}")
    return {"top": top, "full": full, "logs": [r_top.stderr, r_full.stderr]}


# ----------------------------------------------------------------------------- tests


def test_png_decoder_round_trips_every_filter():
    rng = np.random.default_rng(7)
    for channels in (3, 4):
        img = rng.integers(0, 256, size=(37, 23, channels), dtype=np.uint8)
        img[5:15, 3:9] = 255  # flat areas too
        for filters in ([0], [1], [2], [3], [4], [0, 1, 2, 3, 4], [4, 3, 2, 1]):
            assert np.array_equal(decode_png(encode_png(img, filters)), img), (channels, filters)
    with pytest.raises(ValueError):
        decode_png(b"GIF89a....")


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    low = html.lower()
    assert "<script src=" not in low and not re.search(r"<script[^>]*\ssrc\s*=", low)
    assert '<link rel="stylesheet"' not in low and not re.search(r"<link[^>]*stylesheet", low)
    assert "javascript:" not in low
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*//""", low), "protocol-relative resource"
    assert not re.search(r"""\ssrc\s*=\s*["']?https?:""", low), "external resource"
    assert "@import" not in low and not re.search(r"url\(\s*['\"]?https?:", low)
    assert low.count("<svg") >= 2 and low.count("<math") >= 4
    for colour in LINE_COLOURS:
        assert colour in low, f"the plot colour {colour} is not in the report"


def test_svg_and_mathml_survive_in_the_browser(report, layout):
    source = report.read_text(encoding="utf-8").lower()
    assert len(layout["svgs"]) == source.count("<svg") >= 2
    assert len(layout["maths"]) == source.count("<math") >= 4
    assert layout["svg_ns"], "an <svg> was not parsed as an SVG element"
    assert layout["mathml"], "a <math> was not parsed as MathML (it would render as plain text)"
    for x, y, w, h in layout["svgs"]:
        assert w >= 300 and h >= 150, f"an SVG plot is drawn {w}x{h} px"
        assert 0 <= x and x + w <= WIDTH + 1, "an SVG plot sticks out of the page"
    for x, y, w, h in layout["maths"]:
        assert w > 20 and h > 10, f"a formula is drawn {w}x{h} px"
    assert layout["width"] <= WIDTH, f"the page scrolls sideways ({layout['width']} px wide)"
    assert "<svg" in layout["dom"] and "<math" in layout["dom"]


def test_formulas_get_no_vertical_scrollbar(layout):
    assert layout["formula_overflow"] == [], f"formula boxes that scroll vertically: {layout['formula_overflow']}"


def test_screenshot_is_not_blank(shots):
    for name in ("top", "full"):
        path = shots[name]
        assert path.is_file() and path.stat().st_size > 10_000, f"{path} missing or tiny"
        img = decode_file(path)
        assert img.shape[1] == WIDTH and img.shape[0] >= 3000, img.shape
        ink = non_white(img).mean()
        assert ink > 0.02, f"{path}: only {ink:.2%} of the pixels are not white"
        assert len(np.unique(img[..., :3].reshape(-1, 3)[::97], axis=0)) > 20, f"{path} is nearly one colour"
    top = decode_file(shots["top"])
    assert non_white(top[:200]).mean() > 0.005, "no title at the top of the page"


def test_plots_are_drawn(shots, layout):
    img = decode_file(shots["full"])
    assert layout["svgs"], "no <svg> in the page"
    drawn = 0
    for i, (x, y, w, h) in enumerate(layout["svgs"]):
        x0, y0 = max(0, int(x)), max(0, int(y))
        x1, y1 = min(img.shape[1], int(x + w + 0.999)), min(img.shape[0], int(y + h + 0.999))
        if y1 - y0 < h * 0.9:
            continue  # beyond the largest screenshot Chromium takes
        region = img[y0:y1, x0:x1]
        ink = non_white(region).mean()
        assert ink > 0.03, f"plot {i} at ({x0},{y0}) {x1 - x0}x{y1 - y0}: only {ink:.2%} non-white"
        for name, rgb in LINE_COLOURS.items():
            n = int(colour_mask(region, rgb).sum())
            assert n >= 150, f"plot {i}: only {n} pixels of the line colour {name}"
        drawn += 1
    assert drawn >= 2, "fewer than two plots could be checked in the screenshot"
    # the line colours are the plots' own: little of them outside the plot boxes
    outside = np.ones(img.shape[:2], bool)
    for x, y, w, h in layout["svgs"]:
        outside[max(0, int(y)):int(y + h + 1), max(0, int(x)):int(x + w + 1)] = False
    for name, rgb in LINE_COLOURS.items():
        assert colour_mask(img, rgb, tol=6)[outside].sum() < 2000, f"{name} painted outside the plots"


def test_no_console_errors(report, shots):
    url = report.as_uri()
    for log in shots["logs"]:
        problems = console_problems(log, url)
        assert not problems, "console errors while rendering the report:\n" + "\n".join(problems)


def test_console_check_catches_errors(tmp_path):
    """The console check is not vacuous: a page with a script error is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><html><body><p>x</p><script>console.error('kb-boom'); "
                    "notAFunction();</script></body></html>", encoding="utf-8")
    r = run_chromium(page.as_uri(), tmp_path, f"--screenshot={tmp_path / 'broken.png'}", height=300)
    problems = console_problems(r.stderr, page.as_uri())
    assert any("Uncaught" in p for p in problems), r.stderr[-2000:]
    assert any("kb-boom" in p for p in problems), r.stderr[-2000:]


LAYOUT_PROBE = """<script>
(function () {
  function box(e) { var b = e.getBoundingClientRect(); return {l: b.left, r: b.right, w: b.width, h: b.height}; }
  var crossing = [], squeezed = [];
  document.querySelectorAll('table').forEach(function (t) {
    var card = t.closest('.card'), wrap = t.closest('.tablewrap');
    var outer = box(card || document.body), tb = box(t);
    /* a table inside a scrolling wrapper is clipped by it, so the wrapper must fit and not scroll */
    if (wrap && wrap.scrollWidth > wrap.clientWidth + 1) crossing.push('scrolls: ' + t.textContent.trim().slice(0, 50));
    else if (!wrap && tb.r > outer.r + 1) crossing.push('crosses: ' + t.textContent.trim().slice(0, 50));
    else if (wrap && box(wrap).r > outer.r + 1) crossing.push('wrapper crosses: ' + t.textContent.trim().slice(0, 50));
  });
  document.querySelectorAll('td, th').forEach(function (c) {
    var words = c.textContent.trim().split(/\\s+/).filter(Boolean).length;
    var st = getComputedStyle(c), lh = parseFloat(st.lineHeight) || parseFloat(st.fontSize) * 1.5;
    var lines = Math.round((c.clientHeight - parseFloat(st.paddingTop) - parseFloat(st.paddingBottom)) / lh);
    if (words >= 4 && lines >= words) squeezed.push(c.textContent.trim().slice(0, 60));
  });
  var pre = document.createElement('pre'); pre.id = 'kb-layout';
  pre.textContent = JSON.stringify({crossing: crossing, squeezed: squeezed, page: document.documentElement.scrollWidth,
                                    view: innerWidth, cards: document.querySelectorAll('.card').length});
  document.body.appendChild(pre);
})();
</script>"""


@pytest.mark.parametrize("width", [800, 1280, 1920])
def test_tables_fit_their_cards_and_no_column_is_squeezed(report, tmp_path, width):
    """At 800, 1280 and 1920 px: every table fits its card (or the page), none needs a sideways
    scroll, no cell of four or more words is squeezed to one word per line, and the answer
    (predictions) comes before the constants."""
    probe = tmp_path / "probe.html"
    html = report.read_text(encoding="utf-8")
    assert html.index("Predictions on a common grid") < html.index("Laws side by side")
    probe.write_text(without_csp(html).replace("</body>", LAYOUT_PROBE + "</body>", 1), encoding="utf-8")
    browser = _chromium_or_skip()
    profile = tmp_path / "profile"
    profile.mkdir()
    r = subprocess.run([str(browser), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--force-device-scale-factor=1", f"--user-data-dir={profile}", f"--window-size={width},2000",
                        "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    m = re.search(r'<pre id="kb-layout">(.*?)</pre>', r.stdout, re.S)
    assert m, "the layout probe did not run:\n" + r.stderr[-2000:]
    data = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert data["view"] == width and data["cards"] >= 4
    assert data["crossing"] == [], f"at {width} px: {data['crossing']}"
    assert data["squeezed"] == [], f"at {width} px, cells squeezed to a word per line: {data['squeezed']}"
    assert data["page"] <= width, f"at {width} px the page scrolls sideways ({data['page']} px)"
