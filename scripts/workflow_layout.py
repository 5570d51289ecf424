"""Tidy the UI graphs the frontend made from our API workflows: positions, groups, a note.

Regenerate a UI workflow after changing its API twin: import the API file in the real frontend
(`../shared/tools/comfyui-ui-check URL workflows/api/X_api.json shot.png --save-ui raw.json`),
then `python scripts/workflow_layout.py raw.json workflows/X.json main|images`.

usage: workflow_layout.py RAW_UI.json OUT_UI.json main|images
"""
import json
import sys

raw, out, kind = sys.argv[1:4]
g = json.load(open(raw))
X0, Y0, ROW = 100, 200, 300

if kind == "main":
    widths = [240, 225, 230, 220, 220, 250, 220, 240, 200, 240]
    pos = {  # node id -> (column, row)
        1: (0, 0), 2: (1, 0),
        3: (0, 1), 4: (1, 1), 5: (2, 1), 6: (3, 1),
        7: (4, 0), 8: (5, 0), 9: (6, 0), 10: (7, 0), 11: (8, 0), 12: (9, 0),
        13: (7, 1), 14: (8, 1),
    }
    groups = [("Video and hole mask (white = hole)", 0, 3), ("Frame-recurrent inpainting (Ding et al. 2019)", 4, 7),
              ("Output", 8, 9)]
    note = ("**Frame-recurrent video inpainting**\n\n"
            "1. *Load Video (frames)*: the video to fix.\n"
            "2. *Load Video (mask)*: same length and size, white where pixels are missing or should go.\n"
            "3. Run. Pixels outside the (grown) hole are kept exactly; the fill follows the motion.\n\n"
            "One mask for the whole video: use *Load Image (as Mask)* instead of the mask video.")
else:
    widths = [283, 250, 270, 250, 270, 270]
    pos = {1: (0, 0), 2: (0, 1), 3: (1, 0), 4: (2, 0), 5: (3, 0), 6: (4, 0), 7: (5, 0)}
    groups = [("Frames and one hole mask", 0, 0), ("Frame-recurrent inpainting (Ding et al. 2019)", 1, 4),
              ("Output", 5, 5)]
    note = ("**Frame-recurrent inpainting of image frames**\n\n"
            "*Load Image* reads an animated PNG (APNG) as a batch of frames. One mask "
            "(white = hole) is used for every frame. The frames are saved as PNGs; pixels outside the hole "
            "are unchanged.")
GAP = 30
cols = [X0 + sum(widths[:i]) + GAP * i for i in range(len(widths))]
rows = [Y0, Y0 + ROW + (70 if kind == "images" else 0)]

for n in g["nodes"]:
    c, r = pos[n["id"]]
    n["pos"] = [cols[c], rows[r]]
    n["size"][0] = widths[c]

bottom = max(n["pos"][1] + n["size"][1] for n in g["nodes"])
g["groups"] = []
for i, (title, c0, c1) in enumerate(groups, 1):
    x0, x1 = cols[c0], cols[c1] + widths[c1]
    members = [n for n in g["nodes"] if x0 <= n["pos"][0] < x1]
    y1 = max(n["pos"][1] + n["size"][1] for n in members)
    g["groups"].append({"id": i, "title": title, "bounding": [x0 - 12, Y0 - 80, x1 - x0 + 24, y1 - Y0 + 100],
                        "color": ["#3f789e", "#8A8", "#a1309b"][i - 1], "font_size": 22, "flags": {}})
nid = max(n["id"] for n in g["nodes"]) + 1
note_group = g["groups"][0 if kind == "main" else 1]["bounding"]
if kind == "main":
    note_x, note_y, note_size = X0 - 12, note_group[1] + note_group[3] + 50, [560, 190]
else:  # right of the mask loader, below the links that leave it
    note_x, note_y, note_size = cols[2], rows[1] + 150, [600, 130]
g["nodes"].append({"id": nid, "type": "MarkdownNote", "pos": [note_x, note_y], "size": note_size, "flags": {},
                   "order": len(g["nodes"]), "mode": 0, "inputs": [], "outputs": [], "title": "How to use",
                   "properties": {}, "widgets_values": [note], "color": "#432", "bgcolor": "#653"})
g["last_node_id"] = nid
g["extra"] = {"ds": {"scale": 0.6, "offset": [40, 60]}}
json.dump(g, open(out, "w"), indent=1)
