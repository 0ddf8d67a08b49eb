// The drawing pad (ae_vae.app.pad): a <canvas> that sends the ink while you draw, and, where the page can run the
// models, reconstructs every frame here. pad.py's `js_on_load` imports this module and calls `startPad` with the
// component's element, its `trigger`, its `props`, its `server` (`data_ready`: when the map data is written) and the
// page's config (ae_vae.app.page.page_config, fetched), the one source of every number and element id used here.

import {onDrawingReplaced, showStatus} from './dom.js';
import {warnOnce} from './latest.js';
import {PageMaps} from './maps.js';
import {offer, pageState} from './services.js';

// The ink's bounding box on a size x size canvas, reduced by the smallest integer factor that fits maxSide (area
// average, rounded half up): {ink, w, h}, or null for an empty pad. The Python twin is ae_vae.app.pad.encode_payload.
export function reduceInk(data, size, maxSide) {
  let x0 = size, y0 = size, x1 = -1, y1 = -1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (data[4 * (y * size + x) + 3]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const f = Math.ceil(Math.max(x1 - x0 + 1, y1 - y0 + 1) / maxSide);
  const w = Math.ceil((x1 - x0 + 1) / f), h = Math.ceil((y1 - y0 + 1) / f);
  const ink = new Uint8Array(w * h);
  for (let cy = 0; cy < h; cy++) {
    for (let cx = 0; cx < w; cx++) {
      let sum = 0;
      for (let y = y0 + cy * f; y < Math.min(y0 + (cy + 1) * f, size); y++) {
        for (let x = x0 + cx * f; x < Math.min(x0 + (cx + 1) * f, size); x++) sum += data[4 * (y * size + x) + 3];
      }
      ink[cy * w + cx] = Math.floor((2 * sum + f * f) / (2 * f * f));
    }
  }
  return {ink, w, h};
}

// The payload of reduced ink: "<phase>:<w>x<h>:<base64>", or '' for an empty pad.
export function payloadOf(phase, reduced) {
  if (!reduced) return '';
  let bytes = '';
  for (const v of reduced.ink) bytes += String.fromCharCode(v);
  return phase + ':' + reduced.w + 'x' + reduced.h + ':' + btoa(bytes);
}

export function startPad(element, trigger, props, server, config) {
  const {size: SIZE, brush: BRUSH, max_side: MAX_SIDE, frame_interval_ms: INTERVAL_MS} = config.pad;
  const root = element.querySelector('.pad');
  const canvas = root.querySelector('canvas');
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  if (!ctx || !window.PointerEvent) return;  // the notice stays: the page says the pad did not start
  ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.lineWidth = BRUSH; ctx.strokeStyle = '#000'; ctx.fillStyle = '#000';

  const state = pageState(config);
  const strokes = [];   // finished strokes, each a list of [x, y] canvas points
  const sent = [''];    // the payload after each finished stroke: undo re-sends the previous one exactly
  let current = null, pointer = null, base = null, timer = null, lastFrame = -Infinity;

  function paint(points) {
    ctx.beginPath();
    if (points.length === 1) {
      ctx.arc(points[0][0], points[0][1], BRUSH / 2, 0, 2 * Math.PI); ctx.fill(); return;
    }
    ctx.moveTo(points[0][0], points[0][1]);
    for (let i = 1; i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
    ctx.stroke();
  }
  const reduce = () => reduceInk(ctx.getImageData(0, 0, SIZE, SIZE).data, SIZE, MAX_SIDE);
  const payload = (phase, reduced = reduce()) => payloadOf(phase, reduced);

  // The models in the page (draw.js), once loaded: while the pen moves, each frame is reconstructed here and nothing
  // is sent; the server gets the final payload on pointer-up. Until then, or when the page cannot run them, live
  // frames go to the server. The line under the pad says which.
  const appRoot = (window.gradio_config && window.gradio_config.root) || document.baseURI;
  const engine = root.querySelector('.pad-engine');
  // The map data serves the live maps on either path (offered to them); the page decodes with it where it runs models.
  const maps = new PageMaps(config, appRoot, (request) => server.data_ready(request));
  const services = {draw: null, maps, walk: null, scrub: null};
  offer('maps', services.maps);
  const drawsHere = () => Boolean(services.draw && services.draw.runsIn(state.dataset()));
  let serverReason = '';
  function sayEngine() {
    engine.textContent = drawsHere()
      ? 'The reconstructions are computed in this page as you draw; the server adds the rest when the pen lifts.'
      : `The reconstructions are computed on the server: ${serverReason || 'the page is loading its models'}.`;
    root.dataset.inference = drawsHere() ? 'page' : 'server';
  }
  async function startInPage() {
    if (new URLSearchParams(window.location.search).get('inference') === 'server') {
      serverReason = 'asked for by the address (?inference=server)'; return;
    }
    if (!Object.keys(config.graphs).length) return;
    try {
      const module = (name) => import(new URL(`${config.modules}/${name}`, appRoot).href);
      const {startedDraw} = await module('draw.js');
      const draw = await startedDraw(config, appRoot);  // started by the page's <head> already, where it could
      services.draw = draw;
      const [{PageWalk}, {PageScrub}] = await Promise.all(['walk.js', 'scrub.js'].map(module));
      services.maps.models = draw.models;
      services.maps.prefetch(state.dataset());
      services.walk = new PageWalk(config, draw, services.maps, state);
      services.scrub = new PageScrub(config, draw.models);
    } catch (err) {
      serverReason = `this browser could not run the models (${err && err.message ? err.message : err})`;
      warnOnce('the page cannot run the models; the server computes everything', err);
    }
  }
  // The hint on an empty pad names what the chosen data set shows ("draw a digit", "draw a garment").
  const hint = root.querySelector('.pad-hint');
  const sayHint = () => { hint.textContent = `draw a ${config.subjects[state.dataset()] || config.subjects[config.dataset]}`; };
  sayHint();
  // whether this page runs the models, for the parts that start later (the β tab)
  startInPage().finally(() => { sayEngine(); offer('runs-models', Boolean(services.draw)); });
  document.addEventListener(config.events.dataset, () => {
    sayEngine(); sayHint();
    const dataset = state.dataset();  // the other data set's models and maps, before they are needed
    if (drawsHere()) {
      services.draw.models.load(dataset).catch((err) => warnOnce(`the ${dataset} models did not load`, err));
      services.maps.prefetch(dataset);
    }
  });
  // An upload or an example replaces the drawing: what the page drew of it goes at once, also where the server's
  // answer leaves a component as it was (a failed upload empties components the page's images lay over).
  onDrawingReplaced(config.ids.upload, config.ids.examples, () => { if (services.draw) { services.draw.clear(); say(null); } });
  function pageFrame() {
    if (drawsHere()) services.draw.frame(reduce(), state.dataset(), state.fill());
  }

  // A new drawing is sent with one of the pad's events (app.py, pad.py): `input` (queued, always_last) when the server
  // draws the reconstructions; when the page does, it computes the final frame first and sends `submit` (one plain
  // request) with what the server needs to add the rest (draw.js `pagePart`), or `clear` for an emptied pad. Should
  // the page fail to compute it, the ink goes to `input`: the server computes everything.
  // The status line says what the page does while it draws (the server's own words, from the config) until the
  // server's next line.
  let asked = '';  // the last drawing given to the server, as its ink payload
  const say = (text) => showStatus(config.ids.draw_status, text);
  function show(value, reduced = null) {
    root.classList.toggle('empty', strokes.length === 0 && current === null);
    if (value === asked) return;
    asked = value;
    if (!drawsHere() || !value) {
      if (drawsHere()) { services.draw.clear(); say(null); }
      props.value = value; trigger(drawsHere() ? 'clear' : 'input'); return;
    }
    services.draw.final(reduced || reduce(), state.dataset(), state.fill()).then((part) => {
      if (asked !== value || part === false) return;  // a newer drawing was sent meanwhile, or another input came
      say(part ? config.status.done : null);
      props.value = value + (part || ''); trigger(part ? 'submit' : 'input');
    });
  }
  function send(phase) {
    clearTimeout(timer); timer = null; lastFrame = performance.now();
    const reduced = reduce(), value = payload(phase, reduced);
    show(value, reduced);
    return value;
  }
  function schedule() {
    if (drawsHere()) { say(config.status.live); pageFrame(); return; }
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; if (current) send('live'); },
                       Math.max(0, lastFrame + INTERVAL_MS - performance.now()));
  }
  function redraw() { ctx.clearRect(0, 0, SIZE, SIZE); strokes.forEach(paint); }
  function at(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * SIZE / r.width, (e.clientY - r.top) * SIZE / r.height];
  }

  // The hint under the pad: keyboard shortcuts, or on a touch screen (or once a finger draws) what a finger does.
  root.classList.toggle('touch', window.matchMedia('(pointer: coarse)').matches
                                 || (navigator.maxTouchPoints > 0 && window.matchMedia('(hover: none)').matches));
  canvas.addEventListener('pointerdown', (e) => {
    if (e.pointerType === 'touch' || e.pointerType === 'mouse') root.classList.toggle('touch', e.pointerType === 'touch');
    if (current || !e.isPrimary || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    try { canvas.setPointerCapture(e.pointerId); } catch (_err) { /* synthetic pointers: no capture needed */ }
    pointer = e.pointerId; current = [at(e)]; base = ctx.getImageData(0, 0, SIZE, SIZE);
    paint(current); root.classList.remove('empty'); schedule();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!current || e.pointerId !== pointer) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of (events.length ? events : [e])) current.push(at(ev));
    ctx.putImageData(base, 0, 0); paint(current); schedule();
  });
  const finish = (e) => {
    if (!current || e.pointerId !== pointer) return;
    strokes.push(current); current = null; pointer = null; base = null;
    sent.push(send('final'));
  };
  ['pointerup', 'pointercancel', 'lostpointercapture'].forEach((type) => canvas.addEventListener(type, finish));
  // No page scroll or zoom while drawing on a phone (touch-action: none does it where supported).
  canvas.addEventListener('touchstart', (e) => e.preventDefault(), {passive: false});
  canvas.addEventListener('touchmove', (e) => e.preventDefault(), {passive: false});

  function undo() {
    if (current || !strokes.length) return;
    strokes.pop(); sent.pop(); redraw();
    clearTimeout(timer); timer = null;
    show(sent[sent.length - 1]);
  }
  function clear() {
    if (current) return;
    strokes.length = 0; sent.length = 1; redraw();
    clearTimeout(timer); timer = null;
    show('');
  }
  root.querySelector('.pad-undo').addEventListener('click', undo);
  root.querySelector('.pad-clear').addEventListener('click', clear);
  document.addEventListener('keydown', (e) => {
    if (!canvas.isConnected || !canvas.getClientRects().length) return;  // another tab, or gone
    const t = e.target;
    if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
    const key = (e.key || '').toLowerCase();
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && key === 'z') { e.preventDefault(); undo(); }
    else if (!e.ctrlKey && !e.metaKey && !e.altKey && (key === 'delete' || key === 'backspace')) {
      e.preventDefault(); clear();
    }
  });

  // The one handle tests and benchmarks use: the pad and the page's services.
  canvas.aeVae = {
    pad: {payload, reduce, undo, clear, strokes: () => strokes.length, inPage: () => services.draw},
    services,
    config,
  };
  root.querySelector('.pad-tools').hidden = false;
  root.querySelector('.pad-notice').hidden = true;
  root.dataset.ready = 'true';
}
