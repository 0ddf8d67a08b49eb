// The β tab (ae_vae.app.knobview): one slider over the β-conditioned VAE's trained range, on a log scale, and what
// β does: the drawing's reconstruction with its rate and distortion, the same N(0, I) draws decoded, the measured
// rate–distortion curve with β and the drawing marked, and the latent map of stored test images at β, which decodes
// at β the point under the pointer (a click or a tap pins one). Where the page runs the models, all of it follows the
// slider while it moves (knob.js); elsewhere the map and the curve's mark follow it and the server decodes on release
// and on a tap (the component's server function `knob_point`).

import {classPoints, crosshair, fivePointStar, pinRing, sizedCanvas} from './canvas.js';
import {paintGrey} from './dom.js';
import {gridBytes, toBytes} from './images.js';
import {latestWins, warnOnce} from './latest.js';
import {PageKnob, bytes} from './knob.js';
import {when} from './services.js';

const STEPS = 1000;  // the slider's positions, log-spaced over the range
const POINT_RADIUS = 1.6;  // CSS px
const STAR_RADIUS = 8;

function star(ctx, cx, cy, radius, fill) {
  fivePointStar(ctx, cx, cy, radius);
  ctx.fillStyle = fill; ctx.fill();
  ctx.strokeStyle = '#000'; ctx.lineWidth = 1.2; ctx.stroke();
}

class KnobView {
  constructor(root, server, config, appRoot) {
    this.root = root; this.server = server; this.config = config;
    this.note = root.querySelector('.knob-note');
    this.body = root.querySelector('.knob-body');
    this.slider = root.querySelector('.knob-slider input');
    this.label = root.querySelector('.knob-beta');
    this.words = root.querySelector('.knob-words');
    this.numbers = root.querySelector('.knob-numbers');
    this.reconCanvas = root.querySelector('.knob-drawing canvas');
    this.drawsCanvas = root.querySelector('.knob-draws canvas');
    this.curveCanvas = root.querySelector('.knob-curve canvas');
    this.mapArea = root.querySelector('.knob-map .map-area');
    this.mapCanvas = this.mapArea.querySelector('.map-points');
    this.marksCanvas = this.mapArea.querySelector('.map-marks');
    this.inset = this.mapArea.querySelector('.map-inset');
    this.mapText = root.querySelector('.knob-map .map-text');
    this.mapCaption = root.querySelector('.knob-map figcaption');
    this.legend = root.querySelector('.knob-legend');
    this.shown = null;  // the data set whose range the slider has
    this.slider.id = config.knob_ids.slider;
    this.reconCanvas.id = config.knob_ids.recon;
    this.drawsCanvas.id = config.knob_ids.samples;
    this.knob = new PageKnob(config, appRoot, (request) => server.data_ready(request));
    this.state = {dataset: null, drawing: null, note: ''};
    this.data = null;  // the data set's KnobData
    this.beta = 1;
    this.point = null;  // the drawing at the β last decoded: {beta, rate, distortion, place}
    this.inPage = false;
    this.painted = 0;  // reconstructions painted (for tests and benchmarks)
    this.queue = latestWins((beta) => this.decodeInPage(beta), {name: 'the KL knob'});
    this.hovered = null;  // the map's point under the pointer {x, y, fx, fy, image, beta}, in the page
    this.pinned = null;  // the map's point a click or a tap pinned
    this.spots = 0;  // map points decoded and shown (for tests and benchmarks)
    this.spotQueue = latestWins((beta) => this.decodeSpot(beta), {name: "the KL knob's map point"});
    when('runs-models').then((runs) => { this.inPage = runs; this.sayMapText(); if (this.data) this.decode(); });
    this.mapArea.addEventListener('pointermove', (e) => { if (e.pointerType !== 'touch') this.hover(e); });
    this.mapArea.addEventListener('pointerleave', () => this.leave());
    this.mapArea.addEventListener('click', (e) => this.pin(e));
    this.slider.addEventListener('input', () => this.turn(this.betaAt(Number(this.slider.value)), false));
    this.slider.addEventListener('change', () => this.turn(this.betaAt(Number(this.slider.value)), true));
    // Nothing is fetched or decoded while the tab is hidden: a state that comes then is shown when it opens.
    this.visible = false;
    this.pending = null;
    new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      if (this.visible && this.pending) { const state = this.pending; this.pending = null; this.show(state); }
    }).observe(root);
    let frame = null;
    new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => this.drawPlots());
    }).observe(this.body);
  }

  // The slider's range and the data the page decodes with are those of the data set shown (`this.shown`): while
  // another one loads, the slider is disabled and nothing decodes, so no β is read against the wrong range.
  range() { return this.config.knobs[this.shown].range; }

  ready() { return this.data !== null && this.shown === this.state.dataset; }

  betaAt(position) {
    const [low, high] = this.range().map(Math.log);
    return Math.exp(low + (high - low) * position / STEPS);
  }

  positionOf(beta) {
    const [low, high] = this.range().map(Math.log);
    return Math.round((Math.log(beta) - low) / (high - low) * STEPS);
  }

  // The server's state: {dataset, drawing (base64 bytes or null), note (why the knob is not available, or '')}.
  async show(state) {
    if (!state) return;
    if (!this.visible) { this.pending = state; return; }
    this.state = state;
    this.drawing = state.drawing ? bytes(state.drawing) : null;
    this.point = null;
    if (state.note || !this.knob.has(state.dataset)) {
      this.note.textContent = state.note || 'The KL knob is not available for this data set.';
      this.body.hidden = true;
      return;
    }
    this.note.textContent = 'Loading the KL knob…';
    if (this.shown !== state.dataset) this.slider.disabled = true;
    try {
      const data = await this.knob.load(state.dataset);
      if (this.state !== state) return;  // a newer state came meanwhile
      this.data = data;
    } catch (err) {  // not loaded, after the tries of `retried` (services.js)
      if (this.state !== state) return;
      this.note.textContent = '⚠️ The KL knob could not be loaded; reload the page to try again.';
      warnOnce('the β tab did not load', err);
      return;
    }
    this.note.textContent = '';
    this.body.hidden = false;
    this.slider.disabled = false;
    if (this.shown !== state.dataset) {  // a data set shown for the first time here: its range, β back to 1
      this.shown = state.dataset;
      this.hovered = null; this.pinned = null; this.inset.hidden = true;
      this.sayMapText();
      const [low, high] = this.range();
      this.beta = Math.min(Math.max(1, low), high);
      this.slider.value = String(this.positionOf(this.beta));
      this.root.querySelector('.knob-low').textContent = `${low} · ${this.config.knob_ends.low}`;
      this.root.querySelector('.knob-high').textContent = `${high} · ${this.config.knob_ends.high}`;
      this.mapCaption.textContent = `Latent map at β: PCA of the codes of ${this.data.n} ${this.data.title} test images`;
      this.legend.replaceChildren(...this.data.classes.map((name, label) => {
        const item = document.createElement('li'), swatch = document.createElement('span');
        swatch.className = 'swatch'; swatch.style.background = this.data.colours[label];
        item.append(swatch, name);
        return item;
      }));
    }
    this.turn(this.beta, true);
  }

  // β moved (`released`: the slider let go, or a new state): the words, the map and the curve's mark at once; the
  // images in the page while it moves, or from the server on release.
  turn(beta, released) {
    this.beta = beta;
    this.label.textContent = beta < 0.1 ? beta.toFixed(3) : beta.toFixed(2);
    this.slider.setAttribute('aria-valuetext', `β = ${this.label.textContent}`);
    const words = this.config.knob_words.find(([upto]) => beta <= upto) || this.config.knob_words.at(-1);
    this.words.textContent = words[1];
    this.drawPlots();
    if (this.inPage || released) this.decode();
  }

  decode() {
    if (!this.ready()) return;
    if (this.inPage) {
      this.queue.request(this.beta);
      if (this.spot()) this.spotQueue.request(this.beta);
    } else {
      this.decodeOnServer(this.beta);
    }
  }

  async decodeInPage(beta) {
    const input = this.drawing ? Float32Array.from(this.drawing, (v) => v / 255) : null;
    const {samples, drawing} = await this.knob.at(this.shown, beta, input, this.data.draws);
    this.paintDraws(samples.map(toBytes));
    this.showDrawing(beta, drawing && {image: toBytes(drawing.image), rate: drawing.rate,
                                       distortion: drawing.distortion, place: this.data.place(drawing.code, beta)});
  }

  async decodeOnServer(beta) {
    const state = this.state;
    let answer;
    try {
      const pinned = this.pinned, at = pinned && {x: pinned.x, y: pinned.y};
      answer = await this.server.knob_point({dataset: state.dataset, beta, drawing: state.drawing, at});
    } catch (err) {
      answer = {error: `the server did not answer (${err && err.message ? err.message : err})`};
    }
    if (this.state !== state || beta !== this.beta) return;  // moved on meanwhile
    if (!answer || answer.error) { this.numbers.textContent = `⚠️ ${answer ? answer.error : 'no answer'}`; return; }
    const frame = this.config.frame, tiles = bytes(answer.samples);
    this.paintDraws(Array.from({length: tiles.length / (frame * frame)},
                               (_, i) => tiles.subarray(i * frame * frame, (i + 1) * frame * frame)));
    const d = answer.drawing, spot = answer.map_point;
    this.showDrawing(beta, d && {image: bytes(d.image), rate: d.rate, distortion: d.distortion, place: d.place});
    if (spot && this.pinned && this.pinned.x === spot.x && this.pinned.y === spot.y) {
      Object.assign(this.pinned, {image: bytes(spot.image), beta});
      this.showSpot();
    }
  }

  // The map's point under the pointer, else the pinned one.
  spot() { return this.hovered || this.pinned; }

  sayMapText() {
    if (!this.data) return;
    this.mapText.textContent = this.inPage
      ? 'Point at the map: the knob decodes the point under the pointer at β; click or tap to pin one, which follows β.'
      : 'Click or tap the map: the server decodes that point at β.';
  }

  // A pointer event's place on the map, in data coordinates and as fractions of the map's box.
  mapPointAt(e) {
    const r = this.mapArea.getBoundingClientRect(), [x0, x1, y0, y1] = this.data.extent;
    const fx = Math.min(Math.max((e.clientX - r.left) / r.width, 0), 1);
    const fy = Math.min(Math.max((e.clientY - r.top) / r.height, 0), 1);
    const x = Math.min(Math.max(x0 + fx * (x1 - x0), x0), x1), y = Math.min(Math.max(y1 - fy * (y1 - y0), y0), y1);
    return {x, y, fx, fy, image: null, beta: null};
  }

  hover(e) {
    if (!this.ready() || !this.inPage) return;
    this.hovered = this.mapPointAt(e);
    this.drawMarks();
    this.spotQueue.request(this.beta);
  }

  leave() {
    if (!this.hovered) return;
    this.hovered = null;
    this.drawMarks();
    this.showSpot();
  }

  // A click or a tap pins the point: decoded at β now and as β moves (in the page, or by the server on release).
  pin(e) {
    if (!this.ready()) return;
    this.pinned = this.mapPointAt(e);
    this.hovered = null;
    this.drawMarks();
    this.showSpot();
    if (this.inPage) this.spotQueue.request(this.beta);
    else this.decodeOnServer(this.beta);
  }

  async decodeSpot(beta) {
    const spot = this.spot();
    if (!spot || !this.ready()) return;
    const probabilities = await this.knob.decode(this.shown, beta, this.data.codeAt(spot.x, spot.y, beta));
    Object.assign(spot, {image: toBytes(probabilities), beta});
    if (spot === this.spot()) this.showSpot();
  }

  // The inset: the point under the pointer or the pinned one, decoded, kept clear of the point it shows.
  showSpot() {
    const spot = this.spot();
    if (!spot || !spot.image) { this.inset.hidden = true; return; }
    const frame = this.config.frame, canvas = this.inset.querySelector('canvas');
    canvas.width = frame; canvas.height = frame;
    paintGrey(canvas, spot.image, frame, frame);
    const beta = spot.beta < 0.1 ? spot.beta.toFixed(3) : spot.beta.toFixed(2);
    this.inset.querySelector('span').textContent = `${spot === this.hovered ? 'under the pointer' : 'pinned'} · β = ${beta}`;
    this.inset.classList.toggle('left', spot.fx > 0.55 && spot.fy < 0.5);
    this.inset.hidden = false;
    this.spots += 1;
    this.inset.dataset.shown = String(this.spots);
  }

  paintDraws(tiles) {
    const {bytes: pixels, width, height} = gridBytes(tiles, Math.ceil(Math.sqrt(tiles.length)), this.config.frame,
                                             this.config.grid);
    this.drawsCanvas.width = width; this.drawsCanvas.height = height;
    paintGrey(this.drawsCanvas, pixels, width, height);
  }

  showDrawing(beta, drawing) {
    const frame = this.config.frame;
    if (!drawing) {
      this.reconCanvas.width = frame; this.reconCanvas.height = frame;
      paintGrey(this.reconCanvas, new Uint8Array(frame * frame), frame, frame);
      this.numbers.textContent = 'Draw on the Draw tab (or upload an image there) to see your drawing here.';
      this.point = null;
    } else {
      this.reconCanvas.width = frame; this.reconCanvas.height = frame;
      paintGrey(this.reconCanvas, drawing.image, frame, frame);
      this.numbers.textContent = `rate ${drawing.rate.toFixed(1)} nats · distortion ${drawing.distortion.toFixed(1)} `
        + 'nats';
      this.point = {beta, ...drawing};
      this.painted += 1;
      this.reconCanvas.dataset.painted = String(this.painted);
    }
    this.drawPlots();
  }

  drawPlots() {
    if (!this.data || this.body.hidden) return;
    this.drawCurve();
    this.drawMap();
    this.drawMarks();
  }

  // Distortion across, rate up: the measured curve, the shipped VAE's point, the AE's distortion as a line, β's
  // place on the curve, and the drawing's own point.
  drawCurve() {
    const {ctx, w, h} = sizedCanvas(this.curveCanvas);
    if (w < 2) return;
    const curve = this.data.curve.curve, reference = this.data.reference;
    const xs = [...curve.map((p) => p.distortion), reference.vae.distortion, reference.ae.distortion];
    const ys = [...curve.map((p) => p.rate), reference.vae.rate, 0];
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [0, Math.max(...ys)];
    const m = {left: 44, right: 10, top: 10, bottom: 34};
    const px = (x) => m.left + (x - x0) / (x1 - x0 || 1) * (w - m.left - m.right) * 0.94 + 0.03 * (w - m.left - m.right);
    const py = (y) => h - m.bottom - (y - y0) / (y1 - y0 || 1) * (h - m.top - m.bottom) * 0.94;
    const clampX = (x) => Math.min(Math.max(x, m.left), w - m.right), clampY = (y) => Math.min(Math.max(y, m.top), h - m.bottom);
    ctx.strokeStyle = '#999'; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(m.left, m.top); ctx.lineTo(m.left, h - m.bottom); ctx.lineTo(w - m.right, h - m.bottom);
    ctx.stroke();
    ctx.fillStyle = '#333'; ctx.font = '11px sans-serif';
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    ctx.fillText('distortion −log p(x|z), nats', (m.left + w - m.right) / 2, h - 13);
    for (const x of [x0, (x0 + x1) / 2, x1]) ctx.fillText(x.toFixed(0), px(x), h - m.bottom + 3);
    ctx.save(); ctx.translate(11, (m.top + h - m.bottom) / 2); ctx.rotate(-Math.PI / 2);
    ctx.fillText('rate KL, nats', 0, -6); ctx.restore();
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (const y of [0, y1 / 2, y1]) ctx.fillText(y.toFixed(0), m.left - 4, py(y));
    // the AE: no rate, its distortion as a dashed line
    ctx.setLineDash([4, 3]); ctx.strokeStyle = '#1f77b4';
    ctx.beginPath(); ctx.moveTo(px(reference.ae.distortion), m.top); ctx.lineTo(px(reference.ae.distortion), h - m.bottom);
    ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = '#1f77b4'; ctx.textAlign = 'left'; ctx.textBaseline = 'top';
    ctx.fillText('AE', px(reference.ae.distortion) + 3, m.top);
    // the curve
    ctx.strokeStyle = '#444'; ctx.lineWidth = 1.5; ctx.beginPath();
    curve.forEach((p, i) => ctx[i ? 'lineTo' : 'moveTo'](px(p.distortion), py(p.rate)));
    ctx.stroke();
    ctx.fillStyle = '#444';
    for (const p of curve) { ctx.beginPath(); ctx.arc(px(p.distortion), py(p.rate), 2.2, 0, 2 * Math.PI); ctx.fill(); }
    // the shipped VAE
    const vx = px(reference.vae.distortion), vy = py(reference.vae.rate);
    ctx.fillStyle = '#ff7f0e'; ctx.beginPath();
    ctx.moveTo(vx, vy - 6); ctx.lineTo(vx + 6, vy); ctx.lineTo(vx, vy + 6); ctx.lineTo(vx - 6, vy); ctx.closePath(); ctx.fill();
    ctx.textAlign = 'left'; ctx.textBaseline = 'bottom'; ctx.fillText('VAE', vx + 7, vy - 2);
    // β on the curve (between its measured points, in log β)
    const at = this.onCurve(this.beta);
    ctx.strokeStyle = '#d62728'; ctx.lineWidth = 2.5;
    ctx.beginPath(); ctx.arc(px(at.distortion), py(at.rate), 6, 0, 2 * Math.PI); ctx.stroke();
    if (this.point) star(ctx, clampX(px(this.point.distortion)), clampY(py(this.point.rate)), STAR_RADIUS,
                         this.config.star);
    const label = `Rate against distortion: the curve measured at ${curve.length} values of β, the ring at β = `
      + `${this.label.textContent}${this.point ? ', your drawing as a star' : ''}`;
    this.curveCanvas.setAttribute('aria-label', label);
  }

  onCurve(beta) {
    const curve = this.data.curve.curve, b = Math.log(beta);
    let i = 0;
    while (i < curve.length - 2 && Math.log(curve[i + 1].beta) < b) i++;
    const a = curve[i], c = curve[i + 1];
    const t = Math.min(Math.max((b - Math.log(a.beta)) / (Math.log(c.beta) - Math.log(a.beta)), 0), 1);
    return {rate: a.rate + t * (c.rate - a.rate), distortion: a.distortion + t * (c.distortion - a.distortion)};
  }

  // Data coordinates -> CSS pixels of the map's w x h box (y up on the map).
  mapPixel(x, y, w, h) {
    const [x0, x1, y0, y1] = this.data.extent;
    return [(x - x0) / (x1 - x0) * w, (y1 - y) / (y1 - y0) * h];
  }

  drawMap() {
    const {ctx, w, h} = sizedCanvas(this.mapCanvas, this.mapArea);
    if (w < 2) return;
    const data = this.data, toPixel = (x, y) => this.mapPixel(x, y, w, h);
    classPoints(ctx, data.placesAt(this.beta), data.labels, data.n, data.colours, toPixel, POINT_RADIUS);
    const [ox, oy] = toPixel(0, 0);  // the prior's centre: where codes collapse
    ctx.strokeStyle = '#000'; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(ox - 5, oy); ctx.lineTo(ox + 5, oy); ctx.moveTo(ox, oy - 5); ctx.lineTo(ox, oy + 5); ctx.stroke();
    if (this.point && this.point.place) {
      const [sx, sy] = toPixel(...this.point.place);
      star(ctx, Math.min(Math.max(sx, STAR_RADIUS), w - STAR_RADIUS), Math.min(Math.max(sy, STAR_RADIUS), h - STAR_RADIUS),
           STAR_RADIUS, this.config.star);
    }
    this.mapCanvas.setAttribute('aria-label', `The latent map at β = ${this.label.textContent}: ${data.n} test images `
      + `as dots coloured by class${this.point ? ', your drawing as a star' : ''}; the cross is the prior's centre`);
  }

  // The pointer's crosshair and the pinned point's ring, above the points.
  drawMarks() {
    if (!this.data) return;
    const {ctx, w, h} = sizedCanvas(this.marksCanvas, this.mapArea);
    if (this.hovered) crosshair(ctx, ...this.mapPixel(this.hovered.x, this.hovered.y, w, h), w, h);
    if (this.pinned) pinRing(ctx, ...this.mapPixel(this.pinned.x, this.pinned.y, w, h));
  }
}

// The component's `js_on_load` counterpart (ae_vae.app.knobview.KNOB_LOADER): its element, props (the value: the
// server's state as JSON), server functions and `watch`, and the page's config.
export function startKnobView(element, props, server, watch, config) {
  const root = element.querySelector('.knob-view');
  const appRoot = (window.gradio_config && window.gradio_config.root) || document.baseURI;
  const view = new KnobView(root, server, config, appRoot);
  const read = () => {
    try { return JSON.parse(props.value); } catch (err) { warnOnce('the β tab state could not be read', err); return null; }
  };
  view.show(read());
  watch('value', () => view.show(read()));
  root.aeVaeKnob = view;  // the handle tests and benchmarks use
}
