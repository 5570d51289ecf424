"""Tidy the UI graphs the frontend made from our API workflows: positions, groups, a note.

Regenerate a UI workflow after changing its API twin: import the API file in the real frontend
(`../shared/tools/comfyui-ui-check URL workflows/api/X_api.json shot.png --save-ui raw.json`),
then `python scripts/workflow_layout.py raw.json workflows/X.json main|images|propagate|chunks`,
and redraw the previews with `python scripts/workflow_previews.py URL`.

usage: workflow_layout.py RAW_UI.json OUT_UI.json main|images|propagate|chunks|learned|sam3|longshot|cleanplate

``sam3``: import ``scripts/workflow_sources/object_removal_sam3_points_api.json`` (the SAM3 template plus its
points group, nodes 25-27); the layout bypasses the points group (mode 4), so the template runs
from the text prompt until the artist enables it.
"""
import json
import sys

# Model files the templates name that ComfyUI does not ship: (models/ folder, download address). Each node that loads
# one carries it in properties["models"], which the frontend's missing-model dialog reads to offer the download.
MODEL_SOURCES = {
    "sam3.1_multiplex_fp16.safetensors": (
        "checkpoints", "https://huggingface.co/Comfy-Org/sam3.1/resolve/main/checkpoints/sam3.1_multiplex_fp16.safetensors"),
    "512-inpainting-ema.safetensors": (
        "checkpoints",
        "https://huggingface.co/stabilityai/stable-diffusion-2-inpainting/resolve/main/512-inpainting-ema.safetensors"),
}


def add_model_sources(graph: dict) -> None:
    """Give every node whose widgets name a file of :data:`MODEL_SOURCES` its ``properties["models"]`` entry."""
    for node in graph["nodes"]:
        names = [v for v in node.get("widgets_values") or [] if isinstance(v, str) and v in MODEL_SOURCES]
        if names:
            node.setdefault("properties", {})["models"] = [
                {"name": name, "directory": MODEL_SOURCES[name][0], "url": MODEL_SOURCES[name][1]} for name in names]


raw, out, kind = sys.argv[1:4]
g = json.load(open(raw))
X0, Y0, ROW = 100, 200, 300
COLORS = {"input": "#3f789e", "pipeline": "#8A8", "output": "#a1309b", "propagate": "#b06634", "chunk2": "#88A",
          "networks": "#6a6a3a", "sam3": "#2a6f6f"}
LEARNED_NOTE = ("The four *Load ... Network* nodes give each stage the pack's trained network (`weights/`, "
                "research-use terms: see the weight cards); set a stage's `method` back to its classical choice "
                "to swap that part out.")
INPUT_GROUP = "Video and hole mask (white = hole)"
PIPELINE_GROUP = "Frame-recurrent inpainting (Ding et al. 2019)"

# Per layout: column widths, node id -> (column, row), row tops, groups (title, colour, first and last column,
# first and last row), the note and where it goes ("below" the first group, or an explicit column/row/offset).
if kind == "main":
    widths = [240, 225, 230, 220, 220, 250, 220, 240, 200, 240]
    pos = {
        1: (0, 0), 2: (1, 0),
        3: (0, 1), 4: (1, 1), 5: (2, 1), 6: (3, 1),
        7: (4, 0), 8: (5, 0), 9: (6, 0), 10: (7, 0), 11: (8, 0), 12: (9, 0),
        13: (7, 1), 14: (8, 1),
    }
    rows = [Y0, Y0 + ROW]
    groups = [(INPUT_GROUP, "input", 0, 3), (PIPELINE_GROUP, "pipeline", 4, 7), ("Output", "output", 8, 9)]
    note = ("**Frame-recurrent video inpainting**\n\n"
            "1. *Load Video (frames)*: the video to fix.\n"
            "2. *Load Video (mask)*: same length and size, white where pixels are missing or should go.\n"
            "3. Run. Pixels outside the (grown) hole are kept exactly; the fill follows the motion.\n\n"
            "One mask for the whole video: use *Load Image (as Mask)* instead of the mask video.")
    note_at, note_size = "below", [560, 190]
elif kind == "images":
    widths = [283, 250, 270, 250, 270, 270]
    pos = {1: (0, 0), 2: (0, 1), 3: (1, 0), 4: (2, 0), 5: (3, 0), 6: (4, 0), 7: (5, 0)}
    rows = [Y0, Y0 + ROW + 70]
    groups = [("Frames and one hole mask", "input", 0, 0), (PIPELINE_GROUP, "pipeline", 1, 4),
              ("Output", "output", 5, 5)]
    note = ("**Frame-recurrent inpainting of image frames**\n\n"
            "*Load Image* reads an animated PNG (APNG) as a batch of frames. One mask "
            "(white = hole) is used for every frame. The frames are saved as PNGs; pixels outside the hole "
            "are unchanged.")
    note_at, note_size = (2, 1, 150), [600, 130]  # right of the mask loader, below the links that leave it
elif kind == "propagate":
    widths = [240, 225, 230, 220, 250, 220, 250, 220, 240, 210, 240]
    pos = {
        1: (0, 0), 2: (1, 0),
        3: (0, 1), 4: (1, 1), 5: (2, 1), 6: (3, 1),
        7: (4, 0),
        8: (5, 0), 9: (6, 0), 10: (7, 0), 11: (8, 0),
        12: (9, 0), 13: (10, 0), 14: (9, 1),
    }
    rows = [Y0, Y0 + ROW]
    groups = [(INPUT_GROUP, "input", 0, 3), ("Propagation", "propagate", 4, 4),
              (PIPELINE_GROUP, "pipeline", 5, 8), ("Output", "output", 9, 10)]
    note = ("**Object removal with Flow Propagate**\n\n"
            "1. *Load Video (frames)*: the video.\n"
            "2. *Load Video (hole mask)*: same length and size, white over the object to remove.\n"
            "3. Run. Pixels outside the (grown) hole are kept exactly.\n\n"
            "*Flow Propagate* follows the motion forwards and backwards through the clip and copies into the "
            "hole the real background that other frames saw, sharp and at full resolution. It helps when the "
            "object or the camera moves: what is hidden now shows a few frames earlier or later. What no "
            "frame saw is filled once, on a keyframe, with the texture around the hole (`keyframes` = textured; "
            "seconds a keyframe), and carried along the motion. What is still left (white in the *Remaining "
            "hole* preview) goes to Frame Inpaint and the frame-recurrent stages. Set `keyframes` to off to "
            "leave all that no frame saw to them: a softer fill, filled anew each frame.")
    note_at, note_size = "below", [560, 200]
elif kind == "chunks":
    widths = [240, 225, 220, 220, 220, 220, 250, 220, 240, 250, 220, 240, 210, 210, 240]
    pos = {
        1: (0, 0), 2: (1, 0), 3: (0, 2), 4: (1, 2),
        # chunk 1: slices, mask, pipeline
        5: (2, 0), 6: (2, 1), 7: (3, 1), 8: (4, 1), 9: (5, 0), 10: (6, 0), 11: (7, 0), 12: (8, 0),
        # chunk 2: its flow and refine stages sit right of chunk 1's refine, whose state they take
        13: (2, 3), 14: (2, 4), 15: (3, 4), 16: (4, 4), 17: (5, 3), 18: (9, 3), 19: (10, 3), 20: (11, 3),
        21: (12, 0), 22: (13, 0), 23: (14, 0),  # on the top row, as the links from the video's fps and audio
    }
    rows = [Y0, Y0 + 170, Y0 + 270, Y0 + 520, Y0 + 690]
    groups = [(INPUT_GROUP, "input", 0, 1, 0, 2), ("Chunk 1", "pipeline", 2, 8, 0, 1),
              ("Chunk 2: continues from chunk 1's state", "chunk2", 2, 11, 3, 4),
              ("Join and save", "output", 12, 14, 0, 1)]
    note = ("**A long video in chunks**\n\n"
            "Each chunk takes `length` frames from `batch_index` (*Get Image from Batch*, for the frames and the "
            "mask video) and runs the frame-recurrent pipeline. Chunk 2's *Robust Flow* and *ConvLSTM Refine* "
            "take chunk 1's `state` (its last frame, hole, fill and output), so the joined video is the same as "
            "one run over all frames: no seam at the join.\n\n"
            "More chunks: copy chunk 2, set `batch_index` to the next start, connect the previous chunk's "
            "`state`, add an input to *Batch Images*.\n\n"
            "Memory: in one graph every chunk is still held in RAM; the state sockets make the split seamless, "
            "not smaller. For clips that do not fit, use the pack's command line `inpaint_video.py` (constant "
            "memory). Flow Propagate is left out: it looks both ways in time, so per chunk it would differ "
            "from one run near the joins.")
    note_at, note_size = "below", [495, 250]
elif kind == "learned":
    widths = [240, 225, 230, 220, 250, 250, 220, 250, 220, 240, 210, 240]
    pos = {
        1: (0, 0), 2: (1, 0),
        3: (0, 1), 4: (1, 1), 5: (2, 1), 6: (3, 1),
        7: (4, 0),
        15: (5, 1), 16: (6, 1), 17: (7, 1), 18: (8, 1),
        8: (5, 0), 9: (6, 0), 10: (7, 0), 11: (8, 0),
        12: (9, 0), 13: (10, 0), 14: (9, 1),
    }
    rows = [Y0, Y0 + ROW + 40]
    groups = [(INPUT_GROUP, "input", 0, 3), ("Propagation", "propagate", 4, 4),
              (PIPELINE_GROUP + ": learned", "pipeline", 5, 8, 0, 0), ("Trained networks", "networks", 5, 8, 1, 1),
              ("Output", "output", 9, 10)]
    note = ("**Object removal, learned path**\n\n"
            "1. *Load Video (frames)*: the video.\n"
            "2. *Load Video (hole mask)*: same length and size, white over the object to remove.\n"
            "3. Run. Pixels outside the (grown) hole are kept exactly.\n\n"
            "*Flow Propagate* copies the background other frames saw, and fills what no frame saw once, on "
            "keyframes, with the texture around the hole (`keyframes` = textured; off leaves it to the networks: "
            "softer); the paper's four networks fill what is left: the frame network (P), the flow-completion "
            "network (F^I), the blend network H_f and the ConvLSTM refiner, which carries its memory along the "
            "flow so the fill stays steady.\n\n"
            + LEARNED_NOTE)
    note_at, note_size = "below", [560, 260]
elif kind == "sam3":
    widths = [240, 225, 240, 250, 250, 230, 250, 250, 220, 250, 220, 240, 210, 240]
    pos = {
        1: (0, 0), 2: (1, 0),
        20: (0, 1), 21: (1, 1), 22: (2, 1), 23: (3, 1), 24: (3, 2),
        25: (0, 3), 26: (1, 3), 27: (2, 3),
        6: (4, 1), 7: (5, 0),
        15: (6, 1), 16: (7, 1), 17: (8, 1), 18: (9, 1),
        8: (6, 0), 9: (7, 0), 10: (8, 0), 11: (9, 0),
        12: (10, 0), 13: (11, 0), 14: (10, 1),
    }
    rows = [Y0, Y0 + ROW, Y0 + 2 * ROW, Y0 + 3 * ROW + 60]
    groups = [("Video", "input", 0, 1, 0, 0), ("Mask from a text prompt (SAM3)", "sam3", 0, 4, 1, 2),
              ("Or from clicks: select this group, Ctrl+B to enable", "sam3", 0, 2, 3, 3),
              ("Propagation", "propagate", 5, 5, 0, 0),
              (PIPELINE_GROUP + ": learned", "pipeline", 6, 9, 0, 0), ("Trained networks", "networks", 6, 9, 1, 1),
              ("Output", "output", 10, 11)]
    note = ("**Remove an object named by a word (or a click)**\n\n"
            "1. *Load Video*: the video.\n"
            "2. *What to remove*: the object's name, e.g. `person, dog` (comma-separated; up to 32 tokens).\n"
            "3. Run. *Mask over the frames* shows what SAM3 tracked; the hole is grown by 6 px, propagated "
            "(what no frame saw is filled once, on keyframes, with the texture around it), and the rest filled "
            "by the pack's networks. Source fps and audio are kept.\n\n"
            "**Clicks instead of words**: enable the bottom group (select it, Ctrl+B); write the points of "
            "frame 0 as `[{\"x\": 210, \"y\": 140}]` in the *Input Text* node.\n\n"
            "**Weights**: `sam3.1_multiplex_fp16.safetensors` in `ComfyUI/models/checkpoints/`. "
            + LEARNED_NOTE)
    note_at, note_size = (5, 2, 0), [700, 290]
elif kind == "cleanplate":
    widths = [240, 225, 230, 220, 250, 250, 220, 250, 220, 240, 210, 240]
    pos = {
        1: (0, 0), 2: (1, 0),
        3: (0, 1), 4: (1, 1), 5: (2, 1), 6: (3, 1),
        20: (2, 2), 21: (0, 2), 23: (1, 2), 24: (3, 2), 22: (4, 2), 25: (5, 2),
        30: (0, 3), 31: (1, 3), 32: (2, 3), 33: (3, 3), 34: (4, 3), 35: (5, 3), 36: (6, 3),
        7: (4, 0),
        15: (5, 1), 16: (6, 1), 17: (7, 1), 18: (8, 1),
        8: (5, 0), 9: (6, 0), 10: (7, 0), 11: (8, 0),
        12: (9, 0), 13: (10, 0), 14: (9, 1),
    }
    rows = [Y0, Y0 + ROW + 40, Y0 + 2 * ROW + 80, Y0 + 3 * ROW + 140]
    bypassed = (30, 31, 32, 33, 34, 35, 36)
    groups = [(INPUT_GROUP, "input", 0, 3, 0, 1), ("Propagation", "propagate", 4, 4, 0, 0),
              (PIPELINE_GROUP + ": learned", "pipeline", 5, 8, 0, 0), ("Trained networks", "networks", 5, 8, 1, 1),
              ("Output", "output", 9, 10, 0, 1),
              ("The keyframe, filled once: Flow Propagate's reference", "propagate", 0, 5, 2, 2),
              ("Or fill it with a diffusion inpainting model: select this group, Ctrl+B", "sam3", 0, 6, 3, 3)]
    note = ("**Clean plate from one frame**\n\n"
            "What no frame of the shot ever sees (behind a still object, the middle of a large hole) is filled "
            "**once**, on one keyframe, and Flow Propagate carries that fill along the motion to every frame, so "
            "it is the same in all of them instead of being invented anew each frame.\n\n"
            "1. *Get Image from Batch*: the keyframe (`batch_index`, both for the frames and the mask; frame 0 "
            "here) and Flow Propagate's `reference_frames` must name the same frame.\n"
            "2. *Keyframe fill*: the pack's frame network here. Better: your own painted plate (a *Load Image* of "
            "that frame with the object painted out) or a diffusion model (bottom group) into `reference`.\n"
            "3. Run. Real background that other frames saw still wins over the reference.\n\n"
            "**Diffusion group**: enable it, download `512-inpainting-ema.safetensors` (Stable Diffusion 2 "
            "inpainting) into `models/checkpoints/` when ComfyUI offers it, then connect *VAE Decode* to Flow "
            "Propagate's `reference` in place of *Keyframe fill*. " + LEARNED_NOTE)
    note_at, note_size = (7, 2, 0), [700, 330]
elif kind == "longshot":
    widths = [380, 330, 300]
    pos = {1: (0, 0), 2: (0, 1), 3: (1, 0), 4: (2, 0)}
    rows = [Y0, Y0 + ROW + 120]
    groups = [(INPUT_GROUP, "input", 0, 0), ("Streaming: one frame at a time", "pipeline", 1, 1, 0, 0),
              ("Output", "output", 2, 2, 0, 0)]
    note = ("**A long or large shot, in flat memory**\n\n"
            "1. *Load Video (frames)*: the shot, any length and size.\n"
            "2. *Load Video (hole mask)*: same length, white over what to remove (or connect a MASK, e.g. SAM3's, "
            "to `hole`).\n"
            "3. Run. Pixels outside the (grown) hole are kept exactly; fps and audio are kept.\n\n"
            "*Video Inpaint (streaming)* reads, inpaints and writes one frame at a time: Flow Propagate and the "
            "four stages of the paper, the same engine as the pack's command line, so memory does not grow with "
            "the length. *Save Video* (format and codec `auto`) copies the result without decoding it. "
            "`codec` `h264_lossless` keeps pixels exact (for editing, not for browsers).\n\n"
            "For short clips you want to rewire with other nodes, use the separate stage nodes on IMAGE batches "
            "(the other templates).")
    note_at, note_size = (1, 1, 0), [660, 190]  # right of the mask loader, under the streaming node
else:
    sys.exit(f"unknown layout {kind!r}: main, images, propagate, chunks, learned, sam3, longshot or cleanplate")
GAP = 30
cols = [X0 + sum(widths[:i]) + GAP * i for i in range(len(widths))]

for n in g["nodes"]:
    c, r = pos[n["id"]]
    n["pos"] = [cols[c], rows[r]]
    n["size"][0] = widths[c]
    if kind == "sam3" and n["id"] in (25, 26, 27):
        n["mode"] = 4  # bypassed: the text prompt drives the template until the artist enables the clicks
    if kind == "cleanplate" and n["id"] in bypassed:
        n["mode"] = 4  # bypassed: needs a model file ComfyUI does not ship; the artist enables it

g["groups"] = []
for i, (title, color, c0, c1, *span) in enumerate(groups, 1):
    r0, r1 = span or (0, len(rows) - 1)
    x0, x1 = cols[c0], cols[c1] + widths[c1]
    members = [n for n in g["nodes"] if x0 <= n["pos"][0] < x1 and rows[r0] <= n["pos"][1] <= rows[r1]]
    top, y1 = rows[r0] - 80, max(n["pos"][1] + n["size"][1] for n in members)
    g["groups"].append({"id": i, "title": title, "bounding": [x0 - 12, top, x1 - x0 + 24, y1 - top + 20],
                        "color": COLORS[color], "font_size": 22, "flags": {}})
nid = max(n["id"] for n in g["nodes"]) + 1
if note_at == "below":  # under the first group, at its left edge
    first = g["groups"][0]["bounding"]
    note_x, note_y = X0 - 12, first[1] + first[3] + 50
else:
    c, r, dy = note_at
    note_x, note_y = cols[c], rows[r] + dy
g["nodes"].append({"id": nid, "type": "MarkdownNote", "pos": [note_x, note_y], "size": note_size, "flags": {},
                   "order": len(g["nodes"]), "mode": 0, "inputs": [], "outputs": [], "title": "How to use",
                   "properties": {}, "widgets_values": [note], "color": "#432", "bgcolor": "#653"})
g["last_node_id"] = nid
g["extra"] = {"ds": {"scale": 0.6, "offset": [40, 60]}}
add_model_sources(g)
json.dump(g, open(out, "w"), indent=1)
