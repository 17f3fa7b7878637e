"""`liqcascade report`: one self-contained HTML page that parses and holds every section."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

pytest.importorskip("matplotlib")

from liqcascade.cli import main  # noqa: E402
from liqcascade.report import SECTIONS  # noqa: E402


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag not in ("img", "meta", "br", "link"):
            self.stack.append(tag)
        if tag == "section":
            self.sections.append(attributes.get("id", ""))
        if tag == "img":
            self.images.append(attributes["src"][:22])
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


@pytest.mark.parametrize("scenario", ["default", "oct-10-2025"])
def test_report_is_one_self_contained_page(tmp_path, capsys, scenario):
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out), "--scenario", scenario, "--positions", "5000", "--scenarios", "20",
                 "--time-scenarios", "2", "--steps", "200"]) == 0
    assert "wrote" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    page.close()
    assert page.stack == []
    assert tuple(page.sections) == SECTIONS
    assert len(page.images) >= 4 and all(src.startswith("data:image/png;base64") for src in page.images)
    assert page.external == []
    assert 'name="viewport"' in text and "max-width" in text  # no sideways scrolling: the page wraps
    if scenario == "oct-10-2025":
        assert "Amberdata" in text and "CoinGlass" in text


def test_report_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--out", str(tmp_path / "r.pdf")])
    assert exit_info.value.code == 2 and ".html" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--out", str(tmp_path / "r.html"), "--scenario", "nowhere"])


@pytest.mark.parametrize("scenario", ["venue", "oct-10-2025-venue"])
def test_venue_report_is_one_self_contained_page(tmp_path, capsys, scenario):
    from liqcascade.venue_report import VENUE_SECTIONS

    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out), "--scenario", scenario, "--positions", "2000", "--scenarios",
                 "10"]) == 0
    assert "wrote" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    page.close()
    assert page.stack == []
    assert tuple(page.sections) == VENUE_SECTIONS
    # the amplification curve, per-market panels of the trigger's cascade, the venue's liquidation
    # map, the comparison
    assert len(page.images) == 4 and all(src.startswith("data:image/png;base64") for src in page.images)
    assert page.external == []
    assert 'name="viewport"' in text and "max-width" in text
    for variant in ("own books", "fixed index", "index follows ETHUSDT", "haircut 20 %"):
        assert variant in text
    for market in ("BTCUSDT", "ETHUSDT", "WBETHUSDT", "USDEUSDT"):
        assert market in text
    assert "Critical shocks of each perpetual alone" in text and "critical shock" in text
    if scenario == "oct-10-2025-venue":
        assert "CoinDesk" in text and "Binance Square" in text
