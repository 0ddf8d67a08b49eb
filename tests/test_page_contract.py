"""The page's contract with the server: every constant and element id the page's modules use comes from Python, once,
through `page_config`; the modules are plain ES modules with nothing filled into them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ae_vae.app.contract import KNOB_ELEMENTS, PAGE_EVENTS, PAGE_MODULES, STATIC, Ids, page_event_js
from ae_vae.app.pad import BRUSH_WIDTH, FRAME_INTERVAL_MS, MARGIN, MAX_SIDE, PAD_LOADER, PAD_SIZE
from ae_vae.figures import GRID_GREY
from ae_vae.models.config import LOGVAR_RANGE
from ae_vae.preprocess import FRAME, FRAMINGS, MNIST_CENTRE

MODULES = sorted(PAGE_MODULES.glob("*.js"))


def code_of(path: Path) -> str:
    """A module's code without its comments (a comment may name an id or a number to explain it)."""
    text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return "\n".join(re.sub(r"(^|\s)//.*$", "", line) for line in text.splitlines())


def test_the_page_is_es_modules_with_nothing_filled_in():
    assert {p.name for p in MODULES} >= {"pad.js", "dom.js", "latest.js", "draw.js", "framing.js", "models.js"}
    assert not (STATIC / "pad.js").exists(), "the pad is a module under static/page/"
    for path in [*MODULES, STATIC / "pad.html", STATIC / "pad.css"]:
        assert "__" not in re.sub(r"__[a-z]\w*", "", code_of(path)), f"{path.name}: a placeholder to fill in"
    for path in MODULES:
        assert re.search(r"^export ", path.read_text(encoding="utf-8"), re.MULTILINE), f"{path.name} exports nothing"
    assert "props.config" in PAD_LOADER and "startPad" in PAD_LOADER


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_module_writes_an_element_id_or_a_page_constant_itself(path):
    code = code_of(path)
    ids = [v for value in Ids.for_page().values() for v in ([value] if isinstance(value, str) else value)]
    ids += list(KNOB_ELEMENTS.values())
    for elem_id in [*ids, *PAGE_EVENTS.values()]:
        assert not re.search(rf"['\"`]#?{re.escape(elem_id)}\b", code), f"{path.name} names {elem_id!r} itself"
    framing_numbers = {n for f in FRAMINGS.values() for n in (f.box, f.crop_threshold, f.solid_fill)}
    numbers = {PAD_SIZE, BRUSH_WIDTH, MAX_SIDE, FRAME, FRAME * FRAME, MNIST_CENTRE, GRID_GREY, *LOGVAR_RANGE,
               *(abs(v) for v in LOGVAR_RANGE), *framing_numbers}
    found = {float(token) for token in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", code)}
    assert not found & {float(n) for n in numbers}, f"{path.name} writes {sorted(found & set(map(float, numbers)))}"
    # (MARGIN, the grid's pad and the frame interval are numbers too common to scan for - 4, 2, 100 (CSS's 100 %):
    # the modules read them from the config like the rest, and the Chromium tests check what they do.)


def test_page_config_carries_pythons_values(tmp_path):
    from ae_vae.app import page
    from ae_vae.app.page import page_config
    from ae_vae.app.sources import load_explorer

    explorer = load_explorer(None, Path(__file__).resolve().parents[1] / "weights")
    config = page_config(explorer, tmp_path)
    assert config["pad"] == {"size": PAD_SIZE, "brush": BRUSH_WIDTH, "max_side": MAX_SIDE,
                             "frame_interval_ms": FRAME_INTERVAL_MS}
    assert config["logvar_range"] == list(LOGVAR_RANGE) and config["frame"] == FRAME
    for dataset, framing in FRAMINGS.items():
        assert config["framings"][dataset] == {"box": framing.box, "crop_threshold": framing.crop_threshold,
                                               "by_mass": framing.by_mass, "solid_fill": framing.solid_fill,
                                               "full_ink": framing.full_ink, "centre": MNIST_CENTRE,
                                               "frame": FRAME, "margin": MARGIN}
    assert config["ids"]["walk_sliders"] == list(Ids.WALK_SLIDERS) and config["events"] == PAGE_EVENTS
    assert config["dataset"] == explorer.datasets[0]
    assert config["data_asks"] == page.DATA_ASKS


def test_every_id_the_page_uses_is_a_component_of_the_app():
    """The layout gives each id of `Ids` to one component, so the page finds what it draws into."""
    import app
    from ae_vae.app.sources import load_explorer

    demo = app.build_demo(load_explorer(None, app.BUNDLED_WEIGHTS))
    elem_ids = [block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)]
    for value in Ids.for_page().values():
        for elem_id in [value] if isinstance(value, str) else value:
            assert elem_ids.count(elem_id) == 1, elem_id
    listeners = [fn.js for fn in demo.fns.values() if fn.js]
    for name in PAGE_EVENTS:
        assert page_event_js(name) in listeners


def test_page_data_ready_waits_for_the_writer_and_says_what_never_comes(tmp_path, monkeypatch):
    """`PageData.ready`: 'missing' for a request naming nothing it writes or once its writer stopped without the file,
    'pending' while the file is still being written after the wait, 'ready' once the writer has written it."""
    import asyncio
    import json
    import threading

    from ae_vae.app import page
    from ae_vae.app.sources import load_explorer

    explorer = load_explorer(None, Path(__file__).resolve().parents[1] / "weights")
    maps = {"data": "maps", "dataset": "mnist"}
    idle = page.PageData(explorer, tmp_path / "idle")
    for request in (None, "maps", {}, {"data": "maps", "dataset": "cifar"}, {"data": "graphs", "dataset": "mnist"},
                    maps):  # the last: a file it would write, but its writer never ran
        assert asyncio.run(idle.ready(request)) == "missing", request

    monkeypatch.setattr(page, "DATA_WAIT_S", 0.2)
    release = threading.Event()
    stuck = page.PageData(explorer, tmp_path / "stuck")
    stuck.writer = threading.Thread(target=release.wait, daemon=True)
    stuck.start()
    try:
        assert asyncio.run(stuck.ready(maps)) == "pending"
    finally:
        release.set()

    folder = tmp_path / "written"
    folder.mkdir()
    data = page.PageData(explorer, folder)
    data.start()
    try:
        answers = [asyncio.run(data.ready(maps))]
        while answers[-1] == "pending":
            answers.append(asyncio.run(data.ready(maps)))
        assert answers[-1] == "ready", answers
        assert json.loads(page.map_data_file(folder, "mnist").read_text())["dataset"] == "mnist"
    finally:
        data.stop()
    assert not data.writer.is_alive()
