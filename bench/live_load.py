"""Simulated pages drawing live on the Draw tab's pad: the load `bench/load_test.py --mode live` applies.

Each client is what one open page sends while someone draws: its own Gradio session, posting the pad's frames
exactly as the page's script does, and fetching the output images an answer names, as the browser does. A stroke
lasts `STROKE_S`; then the client pauses, clears the pad (one empty frame) and draws the next shape.
- A page the server draws for sends to the pad's queued `input` event (`/gradio_api/queue/join` with the event's
  fn_index, then the answer from the session's `/gradio_api/queue/data` stream): the drawing so far at most every
  100 ms while a stroke is drawn, with at most one frame in flight (the pad's throttle and
  `trigger_mode="always_last"`), then the final frame at pointer-up.
- A page running the models (`live_frames=False`) sends only the final frame, with what the page computed of it
  (`page_results`: its model input, codes and errors, computed here by the Python models as the page's do), to the
  pad's unqueued `submit` event, and the clear to its unqueued `clear` event: each one plain request
  (`/gradio_api/run/predict`). Without an `explorer` to compute the page's results, final frames go as the ink alone
  to the queued event, as a page does whose models failed.
Frames are the payloads `ae_vae.app.pad.encode_payload` makes of `tests/support/harness.py` `render_strokes` drawings,
precomputed.

With `follow_ups`, a client also sends what the browser sends after a frame that changes a State the pad's events
output (the drawing the other tabs use): the events listening to that State's change, if any, all joined at once
and answered on one stream, their images fetched.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ae_vae.app.explorer import Explorer
from ae_vae.app.pad import FRAME_INTERVAL_MS, PageResults, encode_page_results, encode_payload, sketch_value
from bench.common import percentile
from tests.support.harness import SHAPES, along, render_strokes, shape_on_canvas

STROKE_S = 1.5  # one stroke, pointer-down to pointer-up
PAUSE_S = 0.4  # after the final frame's answer, before clearing; as long again after the clear
PROGRESS_STEPS = 30  # precomputed frames per stroke


@dataclass
class ClientResult:
    answers: int = 0  # frames answered (live and final)
    clears: int = 0
    strokes: int = 0
    errors: list[str] = field(default_factory=list)
    final_s: list[float] = field(default_factory=list)  # pointer-up -> the final frame's answer
    frame_s: list[float] = field(default_factory=list)  # request -> answer, every frame


def stroke_frames(shape: str, scale: float) -> list[tuple[str, str]]:
    """(live payload, final payload) of the stroke drawn up to each of PROGRESS_STEPS points of its length."""
    points = shape_on_canvas(shape, scale)
    reach = np.hypot(*np.diff(np.asarray(points), axis=0).T).cumsum()
    reach /= reach[-1]
    frames = []
    for step in range(1, PROGRESS_STEPS + 1):
        fraction = step / PROGRESS_STEPS
        drawn = [points[0], *[p for p, r in zip(points[1:], reach) if r < fraction], along(points, fraction)]
        alpha = render_strokes([drawn])
        frames.append((encode_payload(alpha, "live"), encode_payload(alpha, "final")))
    return frames


def page_results(explorer: Explorer, payload: str, dataset: str = "mnist", fill_outlines: bool = False) -> PageResults:
    """What a page running the models computes of a final frame (page/draw.js), computed by the Python models: the
    page's graphs agree with them to 1e-4 and its framing with Python's (tests/test_browser.py)."""
    image = sketch_value(payload)["composite"]
    reconstruction = explorer.reconstruct(image, dataset, fill_outlines=fill_outlines)
    codes = explorer.encode(reconstruction.model_input, dataset)
    return PageResults(explorer.models(dataset).dataset, fill_outlines, reconstruction.model_input,
                       {"ae": np.asarray(codes["ae"]["code"], np.float32), "vae": np.asarray(codes["vae"]["mean"], np.float32)},
                       (reconstruction.ae_mse, reconstruction.vae_mse, *reconstruction.vae_sample_mse))


def with_page_results(explorer: Explorer, payload: str) -> str:
    """A final frame as a page running the models sends it: the ink, then what the page computed of it."""
    return payload + encode_page_results(page_results(explorer, payload))


@dataclass(frozen=True)
class PageEvents:
    """What a simulated page sends: the pad's events by name (fn_index, and where the Draw tab's status line is among
    its outputs): "input", queued, which a server-drawn page sends every frame to; "submit" and "clear", plain
    requests, which a page running the models sends its final frames and its clears to. Then the pad's id, the
    events' inputs as (id, type), and the events the page fires when a frame changes one of their State outputs
    (fn_index, trigger id, inputs), with each component's value on a fresh page."""

    fns: dict  # event name -> (fn_index, index of the status line among its outputs)
    pad_id: int
    pad_inputs: list
    follow_ups: list
    values: dict


def page_events(http, url: str) -> PageEvents:
    """The pad's events and their follow-ups, from /config."""
    config = http.get(url + "config").json()
    pad = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "sketchpad")
    on_pad = {event: next(d for d in config["dependencies"] if [pad, event] in [list(t) for t in d["targets"]])
              for event in ("input", "submit", "clear")}
    if not on_pad["input"].get("queue", True) or on_pad["submit"].get("queue", True) or on_pad["clear"].get("queue", True):
        raise RuntimeError("the pad's input event should be queued, its submit and clear events not")
    kinds = {c["id"]: c["type"] for c in config["components"]}
    states = [i for i in on_pad["input"]["outputs"] if kinds.get(i) == "state"]
    follow_ups = [(d["id"], state, d["inputs"]) for d in config["dependencies"] for state in states
                  if [state, "change"] in [list(t) for t in d["targets"]]]
    values = {c["id"]: ("mnist" if c["type"] == "radio" else None if c["type"] == "state"
                        else c.get("props", {}).get("value")) for c in config["components"]}
    status = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "draw-status")
    return PageEvents({name: (d["id"], d["outputs"].index(status)) for name, d in on_pad.items()}, pad,
                      [(i, kinds.get(i)) for i in on_pad["input"]["inputs"]], follow_ups, values)


class LiveClient:
    """One page's session: `send(payload)` posts a frame and waits for its answer (and its images), to the queued
    event or (`direct`) as the plain request of a page running the models; `follow_up()` sends the events the page
    fires after a frame that changed the drawing."""

    def __init__(self, http, url: str, events: PageEvents, fetch_images: bool):
        self.http, self.url, self.events = http, url, events
        self.session = uuid.uuid4().hex[:11]
        self.fetch_images = fetch_images

    def send(self, payload: str, direct: bool = False) -> None:
        """One frame, as the page sends it: to the queued event, or (`direct`) as a page running the models does, a
        cleared pad to the plain `clear` event and a final frame with the page's results to the plain `submit` event
        (without them, to the queued one)."""
        e = self.events
        data = [payload if i == e.pad_id else e.values.get(i) if kind != "radio" else "mnist"
                for i, kind in e.pad_inputs]
        event = "input" if not direct else "clear" if not payload else "submit" if "|page:" in payload else "input"
        fn_index, status_index = e.fns[event]
        if event != "input":
            answer = self.http.post(self.url + "gradio_api/run/predict", json={
                "data": data, "event_data": None, "fn_index": fn_index, "trigger_id": e.pad_id,
                "session_hash": self.session})
            if answer.status_code != 200:
                raise RuntimeError(f"run/predict answered {answer.status_code}: {answer.text[:200]}")
            outputs = answer.json()["data"]
            self._fetch(outputs)
        else:
            outputs = self._run([(fn_index, e.pad_id, data)])[0]
        status = outputs[status_index]
        if isinstance(status, str) and "⚠" in status:
            raise RuntimeError(f"status: {status}")

    def follow_up(self) -> None:
        e = self.events
        self._run([(fn, trigger, [e.values.get(i) for i in inputs]) for fn, trigger, inputs in e.follow_ups])

    def _run(self, calls: list[tuple[int, int, list]]) -> list[list]:
        """Join every call to the queue, then read their answers from one stream, as the browser does; each
        call's output data, in order. Images sent as files (not inline as data URLs) are fetched. (No calls, no
        stream: the server has none for a session with no event.)"""
        if not calls:
            return []
        ids = []
        for fn_index, trigger, data in calls:
            joined = self.http.post(self.url + "gradio_api/queue/join", json={
                "data": data, "event_data": None, "fn_index": fn_index, "trigger_id": trigger,
                "session_hash": self.session})
            if joined.status_code != 200:
                raise RuntimeError(f"queue/join answered {joined.status_code}: {joined.text[:200]}")
            ids.append(joined.json()["event_id"])
        answers: dict[str, list] = {}
        with self.http.stream("GET", self.url + "gradio_api/queue/data", params={"session_hash": self.session}) as sse:
            for line in sse.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") not in ids or message.get("msg") != "process_completed":
                    continue
                if not message.get("success"):
                    raise RuntimeError(f"event failed: {str(message.get('output'))[:200]}")
                answers[message["event_id"]] = message["output"]["data"]
                if len(answers) == len(ids):
                    break
            else:
                raise RuntimeError("the answer stream closed before every answer")
        outputs = [answers[i] for i in ids]
        self._fetch(outputs)
        return outputs

    def _fetch(self, outputs: list) -> None:
        if self.fetch_images:
            for item in _files(outputs):
                self.http.get(item["url"]).raise_for_status()


def _files(value):
    """Every file value (a dict with an http url) inside an answer, galleries included."""
    if isinstance(value, dict):
        if str(value.get("url", "")).startswith("http"):
            yield value
        else:
            for v in value.values():
                yield from _files(v)
    elif isinstance(value, list):
        for v in value:
            yield from _files(v)


def draw_until(client: LiveClient, frames_by_stroke: list, stop_at: float, result: ClientResult, index: int,
               live_frames: bool = True, follow_ups: bool = False) -> None:
    """Strokes, one after another, until `stop_at` (a final frame in flight is still awaited). Without
    `live_frames` a stroke sends only its final frame at pointer-up, as a page that reconstructs in itself does."""
    n = index
    while time.perf_counter() < stop_at:
        frames = frames_by_stroke[n % len(frames_by_stroke)]
        n += 1
        down = time.perf_counter()
        up = down + STROKE_S
        last_sent = -1.0
        while True:
            now = time.perf_counter()
            wait = last_sent + FRAME_INTERVAL_MS / 1000 - now
            if wait > 0:
                time.sleep(wait)
                now = time.perf_counter()
            if not live_frames and now < up:
                time.sleep(up - now)
                now = time.perf_counter()
            final = now >= up
            progress = min(PROGRESS_STEPS - 1, int((now - down) / STROKE_S * PROGRESS_STEPS))
            payload = frames[progress][1] if final else frames[progress][0]
            last_sent = now
            try:
                client.send(payload, direct=not live_frames)
                answered = time.perf_counter()
                result.answers += 1
                result.frame_s.append(answered - now)
                if final:
                    result.final_s.append(answered - up)
                    if follow_ups:
                        client.follow_up()
            except Exception as exc:  # noqa: BLE001 - every failure counts
                result.errors.append(f"{exc.__class__.__name__}: {exc}")
            if final:
                break
        result.strokes += 1
        time.sleep(PAUSE_S)
        try:
            client.send("", direct=not live_frames)
            result.clears += 1
            if follow_ups:
                client.follow_up()
        except Exception as exc:  # noqa: BLE001
            result.errors.append(f"clear: {exc.__class__.__name__}: {exc}")
        time.sleep(PAUSE_S)


def run_live_load(url: str, clients: int, seconds: float, fetch_images: bool = True, live_frames: bool = True,
                  follow_ups: bool = False, explorer: Explorer | None = None,
                  started: Callable[[], None] | None = None) -> dict:
    """`clients` simulated pages drawing for `seconds`; the summary the load test prints. Without `live_frames`
    the pages send only each stroke's final frame (and the clear), as pages running the models themselves do, with
    what those pages computed of it when an `explorer` of the served models is given to compute it; with
    `follow_ups`, also the events a page fires after each of those (see the module's docstring).

    Each page opens its session first, as a page does when it loads (the server sets up a session's state once, on
    its first event): one empty frame, then every page starts drawing at once. `started` is called just before."""
    import httpx

    strokes = [stroke_frames(shape, scale) for shape in SHAPES for scale in (0.7, 1.0)]
    if not live_frames and explorer is not None:  # only each stroke's last final frame is sent: it carries the results
        strokes = [[*frames[:-1], (frames[-1][0], with_page_results(explorer, frames[-1][1]))] for frames in strokes]
    with httpx.Client(timeout=60) as probe:
        events = page_events(probe, url)
    results = [ClientResult() for _ in range(clients)]
    opened = threading.Barrier(clients + 1)
    clock: dict[str, float] = {}

    def worker(i: int) -> None:
        with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=4)) as http:
            client = LiveClient(http, url, events, fetch_images)
            try:
                client.send("", direct=not live_frames)
            finally:
                opened.wait()
            opened.wait()  # the clock has started
            draw_until(client, strokes, clock["stop_at"], results[i], i, live_frames, follow_ups)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    opened.wait()
    if started is not None:
        started()
    start = time.perf_counter()
    clock["stop_at"] = start + seconds
    opened.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    finals = [s for r in results for s in r.final_s]
    frames = [s for r in results for s in r.frame_s]
    return {"seconds": elapsed, "answers": sum(r.answers for r in results), "strokes": sum(r.strokes for r in results),
            "frames_per_s": sum(r.answers + r.clears for r in results) / elapsed,
            "min_answers_per_client_s": min(r.answers for r in results) / elapsed,
            "final_p50": percentile(finals, 50), "final_p95": percentile(finals, 95), "finals": len(finals),
            "frame_p50": percentile(frames, 50), "frame_p95": percentile(frames, 95),
            "errors": sum(len(r.errors) for r in results),
            "first_errors": [e for r in results for e in r.errors][:3]}
