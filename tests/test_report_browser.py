"""The HTML report in a real browser: Chromium in headless mode, driven from the command line.

How it works: ``report.html`` carries a small inline script that, once the page has loaded, counts
the ``<img>`` elements that finished loading with a nonzero natural size, then the ones whose
``img.decode()`` succeeded, and writes both counts (and the number of summary-table rows) as
attributes of ``#page-check``. ``chromium --headless --dump-dom`` prints the DOM after the page has
run; ``--virtual-time-budget`` lets the decode promises settle first. The test parses those
attributes, then takes a ``--screenshot`` and checks it is a real, non-blank image. A negative
control (one image's bytes corrupted) shows the check can fail.

Without Chromium the tests skip, unless ``SIM_REQUIRE_BROWSER=1`` (CI), where they fail.
Debian: ``apt-get install -y chromium``. ``SIM_CHROMIUM=/path/to/chrome`` picks another binary.
"""
from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from matplotlib.figure import Figure

from sim.report import build_report
from sim.report.figures import ALL_PLOTS

try:
    from test_report import PNG_MAGIC, make_run, make_sweep
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_report import PNG_MAGIC, make_run, make_sweep

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
         "--mute-audio"]


def find_chromium() -> str | None:
    env = os.environ.get("SIM_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    """The browser's path; skip without one, or fail when SIM_REQUIRE_BROWSER=1."""
    path = find_chromium()
    if path is None:
        msg = ("no Chromium found (looked for $SIM_CHROMIUM, then " + ", ".join(CANDIDATES) +
               " on PATH); install it with `apt-get install -y chromium`")
        if os.environ.get("SIM_REQUIRE_BROWSER") == "1":
            pytest.fail(msg + "; SIM_REQUIRE_BROWSER=1 makes the browser check mandatory", pytrace=False)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


def test_missing_browser_skips_or_fails_as_configured(monkeypatch, tmp_path):
    monkeypatch.setenv("SIM_CHROMIUM", str(tmp_path / "no-such-chromium"))
    monkeypatch.delenv("SIM_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium found"):
        require_chromium()
    monkeypatch.setenv("SIM_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="SIM_REQUIRE_BROWSER=1"):
        require_chromium()
    fake = tmp_path / "chromium"
    fake.write_text("")
    monkeypatch.setenv("SIM_CHROMIUM", str(fake))
    assert require_chromium() == str(fake)


def run_chromium(chromium: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp)})


class _PageCheck(HTMLParser):
    """Reads the attributes of #page-check and counts the summary table's body rows."""

    def __init__(self) -> None:
        super().__init__()
        self.check: dict[str, str] = {}
        self.rows = 0
        self.imgs = 0
        self._in_summary = self._in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == "page-check":
            self.check = {k: v or "" for k, v in a.items()}
        if tag == "table" and a.get("id") == "summary":
            self._in_summary = True
        if self._in_summary and tag == "tbody":
            self._in_body = True
        if self._in_body and tag == "tr":
            self.rows += 1
        if tag == "img":
            self.imgs += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        if tag == "table":
            self._in_summary = False


def page_check(chromium: str, tmp: Path, page: Path) -> _PageCheck:
    proc = run_chromium(chromium, tmp, "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<html" in proc.stdout, "the browser printed no DOM: " + proc.stderr[-2000:]
    parser = _PageCheck()
    parser.feed(proc.stdout)
    assert parser.check, "no #page-check element in the rendered page"
    return parser


FISCAL = ("debt_to_gdp", "tax_labour_rate", "tax_capital_rate")  # every variable of the debt figure


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """A sweep of two runs plus an older run lacking the distribution snapshots; no run has
    debt_to_gdp or the tax rates, so that figure is left out (with a note) and every other figure
    is drawn."""
    root = tmp_path_factory.mktemp("browser")
    sweep = make_sweep(root / "sweep", [
        {"scenario": "agi_fast", "overrides": ["scenario=agi_fast", "policy.ubi.level=0.0"],
         "drop": FISCAL},
        {"scenario": "agi_fast", "overrides": ["scenario=agi_fast", "policy.ubi.level=0.3"], "ineq": 0.5,
         "drop": FISCAL},
    ])
    old = make_run(root / "old", scenario="baseline", overrides=["scenario=baseline"],
                   drop=(*FISCAL, "lorenz_wealth", "lorenz_income", "lorenz_consumption"))
    return build_report([sweep, old], root / "report")


def test_report_page_loads_and_every_figure_decodes(chromium, comparison, tmp_path):
    res = comparison
    n_png = len(res.pngs)
    assert n_png == len(ALL_PLOTS) - 1 and list(res.skipped) == ["debt_to_gdp"]
    dom = page_check(chromium, tmp_path, res.html)
    assert dom.check.get("data-images-total") == str(n_png), dom.check
    assert dom.check.get("data-images-ok") == str(n_png), dom.check
    assert dom.check.get("data-images-decoded") == str(n_png), dom.check
    assert dom.imgs == n_png
    # One summary row per run, in the live DOM and as counted by the page itself.
    assert dom.rows == 3
    assert dom.check.get("data-summary-rows") == "3"


def test_report_screenshot_is_a_real_image(chromium, comparison, tmp_path):
    shot = tmp_path / "page.png"
    proc = run_chromium(chromium, tmp_path, "--window-size=1280,2400", "--virtual-time-budget=10000",
                        f"--screenshot={shot}", comparison.html.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    raw = shot.read_bytes()
    assert raw[:8] == PNG_MAGIC and len(raw) > 50_000
    img = mpimg.imread(shot)
    assert img.shape[:2] == (2400, 1280)
    assert float(img[..., :3].std()) > 0.05  # text, tables and figures, not a blank page


def test_check_detects_broken_and_blank_images(chromium, comparison, tmp_path):
    """Negative controls: one embedded PNG with corrupt bytes (fails to load) and one that is a
    valid but single-colour PNG (loads, but has no content): the page must count both."""
    page = comparison.html.read_text()
    srcs = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    n = len(ALL_PLOTS) - 1  # every figure but debt_to_gdp's
    assert len(srcs) == n
    blank = io.BytesIO()
    Figure(figsize=(4, 3), dpi=50).savefig(blank, format="png", facecolor="white")
    page = page.replace(srcs[2], "iVBORw0KGgo" + "A" * 200, 1)
    page = page.replace(srcs[5], base64.b64encode(blank.getvalue()).decode("ascii"), 1)
    bad = tmp_path / "broken.html"
    bad.write_text(page)
    dom = page_check(chromium, tmp_path, bad)
    assert dom.check.get("data-images-total") == str(n)
    assert dom.check.get("data-images-ok") == str(n - 1), dom.check  # the corrupt one did not load
    assert dom.check.get("data-images-decoded") == str(n - 2), dom.check  # nor has the blank one content
