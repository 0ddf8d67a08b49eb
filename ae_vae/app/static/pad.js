const SIZE = __SIZE__, BRUSH = __BRUSH__, MAX_SIDE = __MAX_SIDE__, INTERVAL_MS = __INTERVAL__;
const PAGE = __PAGE__;
const root = element.querySelector('.pad');
const canvas = root.querySelector('canvas');
const ctx = canvas.getContext('2d', {willReadFrequently: true});
if (!ctx || !window.PointerEvent) return;  // the notice stays: the page says the pad did not start
ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.lineWidth = BRUSH; ctx.strokeStyle = '#000'; ctx.fillStyle = '#000';

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

// The ink's bounding box, reduced by the smallest integer factor that fits MAX_SIDE (area average,
// rounded half up): {ink, w, h}, or null for an empty pad. The Python twin is ae_vae.app.pad.encode_payload.
function reduce() {
  const data = ctx.getImageData(0, 0, SIZE, SIZE).data;
  let x0 = SIZE, y0 = SIZE, x1 = -1, y1 = -1;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      if (data[4 * (y * SIZE + x) + 3]) {
        if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const f = Math.ceil(Math.max(x1 - x0 + 1, y1 - y0 + 1) / MAX_SIDE);
  const w = Math.ceil((x1 - x0 + 1) / f), h = Math.ceil((y1 - y0 + 1) / f);
  const ink = new Uint8Array(w * h);
  for (let cy = 0; cy < h; cy++) {
    for (let cx = 0; cx < w; cx++) {
      let sum = 0;
      for (let y = y0 + cy * f; y < Math.min(y0 + (cy + 1) * f, SIZE); y++) {
        for (let x = x0 + cx * f; x < Math.min(x0 + (cx + 1) * f, SIZE); x++) sum += data[4 * (y * SIZE + x) + 3];
      }
      ink[cy * w + cx] = Math.floor((2 * sum + f * f) / (2 * f * f));
    }
  }
  return {ink, w, h};
}
function payload(phase, reduced = reduce()) {
  if (!reduced) return '';
  let bytes = '';
  for (const v of reduced.ink) bytes += String.fromCharCode(v);
  return phase + ':' + reduced.w + 'x' + reduced.h + ':' + btoa(bytes);
}

// The models in the page (page/draw.js), once loaded: while the pen moves, each frame is reconstructed here
// and nothing is sent; the server gets the final payload on pointer-up. Until then, or when the page cannot
// run them, live frames go to the server as before. The line under the pad says which.
const appRoot = (window.gradio_config && window.gradio_config.root) || document.baseURI;
const engine = root.querySelector('.pad-engine');
let inPage = null;
const currentDataset = () => {
  const checked = document.querySelector('#dataset input[type="radio"]:checked');
  return checked ? checked.value : Object.keys(PAGE.graphs)[0] || 'mnist';
};
const fillOutlines = () => Boolean(document.querySelector('#fill-outlines input[type="checkbox"]:checked'));
const drawsHere = () => Boolean(inPage && inPage.runsIn(currentDataset()));
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
  if (!PAGE.modules || !Object.keys(PAGE.graphs).length) return;
  try {
    const {PageDraw} = await import(new URL(PAGE.modules + '/draw.js', appRoot).href);
    const draw = new PageDraw(PAGE, appRoot);
    const first = PAGE.graphs[currentDataset()] ? currentDataset() : Object.keys(PAGE.graphs)[0];
    await draw.start(first);
    inPage = draw;
    const {PageMaps} = await import(new URL(PAGE.modules + '/maps.js', appRoot).href);
    canvas.aeVaeMaps = new PageMaps(PAGE, appRoot, draw.models, currentDataset);
    canvas.aeVaeMaps.prefetch(currentDataset());
    const {PageWalk} = await import(new URL(PAGE.modules + '/walk.js', appRoot).href);
    canvas.aeVaeWalk = new PageWalk(draw.models, canvas.aeVaeMaps, currentDataset);
    const {PageScrub} = await import(new URL(PAGE.modules + '/scrub.js', appRoot).href);
    canvas.aeVaeScrub = new PageScrub(draw.models);
  } catch (err) {
    serverReason = `this browser could not run the models (${err && err.message ? err.message : err})`;
  }
}
// The hint on an empty pad names what the chosen data set shows ("draw a digit", "draw a garment").
const hint = root.querySelector('.pad-hint');
const sayHint = () => { hint.textContent = `draw a ${(PAGE.subjects || {})[currentDataset()] || 'digit'}`; };
sayHint();
startInPage().finally(sayEngine);
document.addEventListener('change', (e) => {
  if (!e.target.closest || !e.target.closest('#dataset')) return;
  sayEngine(); sayHint();
  const dataset = currentDataset();  // the other data set's models and maps, before they are needed
  if (inPage && inPage.runsIn(dataset)) {
    inPage.models.load(dataset).catch(() => {});
    if (canvas.aeVaeMaps) canvas.aeVaeMaps.prefetch(dataset);
  }
});
// An upload or an example replaces the drawing: what the page drew of it goes at once, also where the server's
// answer leaves a component as it was (a failed upload empties components the page's images lay over).
const replaced = (e) => {
  const at = (selector) => e.target && e.target.closest && e.target.closest(selector);
  if (inPage && (e.type === 'click' ? at('#examples button.thumbnail-item') : at('#upload'))) inPage.clear();
};
['change', 'drop', 'click'].forEach((type) => document.addEventListener(type, replaced, true));
function pageFrame() {
  if (drawsHere()) inPage.frame(reduce(), currentDataset(), fillOutlines());
}

// A new drawing is sent with one of the pad's events (app.py, pad.py): `input` (queued, always_last) when the server
// draws the reconstructions; when the page does, it computes the final frame first and sends `submit` (one plain
// request) with what the server needs to add the rest (page/draw.js `pagePart`), or `clear` for an emptied pad.
// Should the page fail to compute it, the ink goes to `input`: the server computes everything.
let asked = '';  // the last drawing given to the server, as its ink payload
function show(value, reduced = null) {
  root.classList.toggle('empty', strokes.length === 0 && current === null);
  if (value === asked) return;
  asked = value;
  if (!drawsHere() || !value) {
    if (drawsHere()) inPage.clear();
    props.value = value; trigger(drawsHere() ? 'clear' : 'input'); return;
  }
  inPage.final(reduced || reduce(), currentDataset(), fillOutlines()).then((part) => {
    if (asked !== value || part === false) return;  // a newer drawing was sent meanwhile, or another input came
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
  if (drawsHere()) { pageFrame(); return; }
  if (timer !== null) return;
  timer = setTimeout(() => { timer = null; if (current) send('live'); },
                     Math.max(0, lastFrame + INTERVAL_MS - performance.now()));
}
function redraw() { ctx.clearRect(0, 0, SIZE, SIZE); strokes.forEach(paint); }
function at(e) {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * SIZE / r.width, (e.clientY - r.top) * SIZE / r.height];
}

canvas.addEventListener('pointerdown', (e) => {
  if (current || !e.isPrimary || (e.pointerType === 'mouse' && e.button !== 0)) return;
  e.preventDefault();
  try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic pointers: no capture needed */ }
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

// for tests and benchmarks
canvas.aeVaePad = {payload, reduce, undo, clear, strokes: () => strokes.length, inPage: () => inPage};
root.querySelector('.pad-tools').hidden = false;
root.querySelector('.pad-notice').hidden = true;
root.dataset.ready = 'true';
