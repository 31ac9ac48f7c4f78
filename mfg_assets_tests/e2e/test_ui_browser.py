"""The Dagster UI in a real browser: headless Debian Chromium driven by Playwright.

Shows the asset graph with every asset, one asset's materialized partitions and its check
results, and saves screenshots (``UPDATE_SCREENSHOTS=1`` writes the README's copies under
``docs/screenshots/``; otherwise they go to the session's temporary directory).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mfg_assets_tests.e2e.conftest import QUALITY_CHECKS, ROOT, DagsterUI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000
# The asset graph draws full nodes (names, checks, partitions) from this zoom on; below 0.6 it
# switches to truncated names. The viewport grows with the graph so it fits at this zoom.
FULL_NODE_ZOOM = 0.7
MAX_VIEWPORT = (4000, 2600)
GRAPH_MARGIN_PX = 120
ASSETS = (
    "sensor_readings",
    "quality_inspections",
    "machine_events",
    "machine_hourly_features",
    "quarantined_readings",
    "failure_labels",
    "online_features",
    "maintenance_training_set",
    "maintenance_model",
    "maintenance_model_evaluation",
    "maintenance_champion",
)
GROUPS = ("plant_ingestion", "features", "labels", "feature_store", "maintenance_model")
PARTITION_STATS_QUERY = """
{ assetNodeOrError(assetKey: {path: ["machine_hourly_features"]}) {
    ... on AssetNode { partitionStats { numMaterialized numPartitions } } } }
"""


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        path = ROOT / "docs" / "screenshots"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser(dagster_ui: DagsterUI) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def graphql(ui: DagsterUI, query: str) -> dict:
    reply = httpx.post(f"{ui.url}/graphql", json={"query": query}, timeout=30)
    reply.raise_for_status()
    return reply.json()["data"]


def dismiss_community_dialog(page, ui: DagsterUI) -> None:
    """A fresh instance greets the first visit with "Join the Dagster community"; skip it."""
    if not graphql(ui, "{ shouldShowNux }")["shouldShowNux"]:
        return
    page.get_by_role("button", name="Skip").click(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Skip").wait_for(state="hidden", timeout=TIMEOUT_MS)
    assert graphql(ui, "{ shouldShowNux }")["shouldShowNux"] is False


def fit_graph_at_full_zoom(page) -> None:
    """Grow the viewport until the whole graph fits at ``FULL_NODE_ZOOM``, then zoom to fit
    (a double click on the graph's background re-centres it)."""
    svg = page.locator("svg[class*=svgContainer]")
    graph_w, graph_h = (float(svg.get_attribute(a)) for a in ("width", "height"))
    viewport = page.locator('[data-svg-viewport="1"]')
    box, view = viewport.bounding_box(), page.viewport_size
    chrome_w, chrome_h = view["width"] - box["width"], view["height"] - box["height"]
    # Taller than needed, so the fit is limited by the width and group headers keep a margin.
    width = math.ceil(graph_w * FULL_NODE_ZOOM + chrome_w)
    height = math.ceil(graph_h * FULL_NODE_ZOOM + chrome_h + GRAPH_MARGIN_PX)
    page.set_viewport_size(
        {
            "width": min(MAX_VIEWPORT[0], max(view["width"], width)),
            "height": min(MAX_VIEWPORT[1], max(view["height"], height)),
        }
    )
    page.wait_for_timeout(500)
    viewport.dispatch_event("dblclick")
    page.wait_for_timeout(2000)  # the zoom animates


@pytest.mark.slow
def test_asset_graph_shows_every_asset(browser, dagster_ui: DagsterUI, screenshots: Path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{dagster_ui.url}/asset-groups")  # "Global asset lineage"
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    dismiss_community_dialog(page, dagster_ui)

    # Groups start collapsed: each group's name is drawn, its assets are not.
    for group in GROUPS:
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    page.get_by_role("button", name="Hide navigation").click()
    page.get_by_placeholder("Jump to…").locator(
        "xpath=ancestor::div[.//button][1]//button"
    ).first.click()  # hide the asset tree beside the graph
    page.locator("svg[class*=svgContainer]").hover()
    page.keyboard.press("Alt+KeyE")  # "Expand all groups"
    expect(page.get_by_text("sensor_readings", exact=True)).to_be_visible()
    fit_graph_at_full_zoom(page)
    expect(page.get_by_text("Loading…")).to_have_count(0)  # every node's status has arrived
    path = screenshots / "asset_graph.png"
    page.screenshot(path=str(path))

    for asset in ASSETS:
        expect(page.get_by_text(asset, exact=True).first).to_be_visible()
    assert page.locator("[class*=minimalName]").count() == 0, "graph drawn with truncated names"
    # Full nodes carry their partitions and check summaries.
    stats = graphql(dagster_ui, PARTITION_STATS_QUERY)["assetNodeOrError"]["partitionStats"]
    expect(page.get_by_text(f"{stats['numPartitions']} partitions").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d+ / \d+ Passed")).first).to_be_visible()
    assert path.stat().st_size > 50_000
    page.close()


@pytest.mark.slow
def test_asset_page_shows_partitions_and_checks(browser, dagster_ui: DagsterUI, screenshots: Path):
    import dagster as dg
    from playwright.sync_api import expect

    with dg.DagsterInstance.from_config(str(dagster_ui.home)) as instance:
        done = instance.get_materialized_partitions(dg.AssetKey("machine_hourly_features"))
    assert set(dagster_ui.materialized_keys) <= done
    stats = graphql(dagster_ui, PARTITION_STATS_QUERY)["assetNodeOrError"]["partitionStats"]
    assert stats["numMaterialized"] == len(done)

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{dagster_ui.url}/assets/machine_hourly_features?view=partitions")
    dismiss_community_dialog(page, dagster_ui)
    expect(page.get_by_text(re.compile(rf"^Materialized \({len(done)}\)$"))).to_be_visible()
    missing = stats["numPartitions"] - len(done)
    expect(page.get_by_text(re.compile(rf"^Missing \({missing}\)$"))).to_be_visible()
    page.get_by_text(dagster_ui.materialized_keys[-1], exact=True).first.click()
    expect(page.get_by_text("Latest materialization").first).to_be_visible()
    expect(page.get_by_role("link", name="hourly_plant_job").first).to_be_visible()
    path = screenshots / "asset_partitions.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 30_000

    page.goto(f"{dagster_ui.url}/assets/machine_hourly_features?view=checks")
    expect(page.get_by_text(re.compile(r"^Checks \(\d+\)$"))).to_be_visible()
    quality_checks = QUALITY_CHECKS["machine_hourly_features"]
    for check in quality_checks:
        expect(page.get_by_text(check, exact=True).first).to_be_visible()
    assert page.get_by_text("Succeeded", exact=True).count() >= len(quality_checks)
    page.get_by_text("null_share", exact=True).first.click()
    expect(page.get_by_text("Evaluation result")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^null share \d+\.\d+%"))).to_be_visible()
    expect(page.get_by_text("Passed", exact=True).first).to_be_visible()
    path = screenshots / "asset_checks.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 30_000
    page.close()
