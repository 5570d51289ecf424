"""Draw the preview pictures of the UI workflows in the real ComfyUI frontend (headless Chromium).

For each ``workflows/<name>.json`` writes ``workflows/<name>.jpg`` (the thumbnail ComfyUI's template
browser shows) and ``media/workflow_<name>.png`` (the README's picture): the graph as the frontend
draws it, cropped to its nodes and groups, without the menus around the canvas.

Start a server with this pack first: loading, the pack copies the template inputs the workflows name
(``demo/comfyui_inputs/``) into its ``input/`` folder where absent, and the Load Video nodes show a
frame of them. Then:

usage: python scripts/workflow_previews.py URL [NAME ...]   # default: every workflow
Needs Chromium and Playwright (as ``../shared/tools/comfyui-ui-check``).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
ZOOM = (0.65, 0.8)  # canvas zoom range (LiteGraph stops drawing text below about 0.6)
TARGET_WIDTH = 1700  # pixels: small graphs are drawn larger, up to the top of ZOOM
LEFT, TOP, RIGHT, BOTTOM = 140, 160, 80, 300  # screen margins clear of the side bar, menus, minimap and stats
PAD = 10  # pixels kept around the graph in the picture
TITLE = 30  # LiteGraph draws a node's title bar above its pos


def graph_box(workflow: dict) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in graph units around every node (title bar included) and group."""
    boxes = [(n["pos"][0], n["pos"][1] - TITLE, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
             for n in workflow["nodes"]]
    boxes += [(x, y, x + w, y + h) for x, y, w, h in (g["bounding"] for g in workflow.get("groups", []))]
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def draw(url: str, path: Path, browser) -> Path:
    """Screenshot one UI workflow; returns the PNG written under media/."""
    workflow = json.loads(path.read_text())
    x0, y0, x1, y1 = graph_box(workflow)
    scale = min(max(TARGET_WIDTH / (x1 - x0), ZOOM[0]), ZOOM[1])
    width, height = round((x1 - x0) * scale), round((y1 - y0) * scale)
    page = browser.new_page(viewport={"width": LEFT + width + RIGHT, "height": TOP + height + BOTTOM})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="networkidle", timeout=120000)
    page.wait_for_function("window.app && window.app.graph && window.LiteGraph", timeout=120000)
    page.keyboard.press("Escape")  # the templates dialog opens on first visit
    # No node-source badge: it would show this checkout's folder name, not the name users install the pack under.
    page.evaluate("() => window.app.extensionManager.setting.set('Comfy.NodeBadge.NodeSourceBadgeMode', 'None')")
    page.evaluate("wf => window.app.loadGraphData(wf)", workflow)
    page.wait_for_timeout(2000)
    page.keyboard.press("Escape")
    # a template whose model files are not installed here (SAM3) raises a "missing models" notice over the canvas
    for button in page.get_by_role("button", name="Dismiss").all():
        if button.is_visible():
            button.click()
    page.evaluate("""([scale, ox, oy]) => {
        const c = window.app.canvas; c.ds.scale = scale; c.ds.offset = [ox, oy];
        window.app.graph.setDirtyCanvas(true, true);
    }""", [scale, LEFT / scale - x0, TOP / scale - y0])
    page.wait_for_timeout(2500)  # DOM widgets (video previews) follow the canvas on the next frames
    png = REPO / "media" / f"workflow_{path.stem}.png"
    page.screenshot(path=str(png), clip={"x": LEFT - PAD, "y": TOP - PAD, "width": width + 2 * PAD,
                                         "height": height + 2 * PAD})
    page.close()
    if errors:
        sys.exit(f"{path.name}: page errors {errors[:3]}")
    cv2.imwrite(str(path.with_suffix(".jpg")), cv2.imread(str(png)), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return png


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    url, names = sys.argv[1].rstrip("/"), sys.argv[2:]
    paths = [p for p in sorted((REPO / "workflows").glob("*.json")) if not names or p.stem in names]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("no chromium: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for path in paths:
            print(draw(url, path, browser))
        browser.close()


if __name__ == "__main__":
    main()
