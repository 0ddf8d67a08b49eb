// The Embeddings tab's live maps (ae_vae.app.mapview): each model's PCA and UMAP map of the stored test codes, drawn
// here from the map data (maps.js) so it is crisp at any size, with the classes' colours and names and the drawing's
// star where the server placed it (the component's value). Under the pointer, the point is decoded by that map's
// model into an inset inside the map's own view (in the page, where it runs the models); a click or a tap pins the
// point, and the server adds how far it is from the data (and decodes it, where the page does not run the models).

import {classPoints, crosshair, fivePointStar, pinRing, sizedCanvas} from './canvas.js';
import {paintGrey} from './dom.js';
import {toBytes} from './images.js';
import {latestWins, warnOnce} from './latest.js';
import {when} from './services.js';

const POINT_RADIUS = 1.6;  // CSS px
const STAR_RADIUS = 9;  // CSS px
const NAME_FONT = 11;  // CSS px, as ae_vae.figures.class_name_places spreads the names

// One map: its figure, canvases (points below, marks above) and inset; data <-> CSS pixel coordinates.
class MapPanel {
  constructor(view, model, projection) {
    this.view = view; this.model = model; this.projection = projection;
    this.pinned = null;  // {x, y, image: bytes or null, token}
    this.hovered = false;
    this.figure = document.createElement('figure');
    this.figure.className = 'map';
    this.figure.dataset.model = model; this.figure.dataset.projection = projection;
    this.figure.innerHTML = '<figcaption></figcaption><div class="map-area"><canvas class="map-points" role="img">'
      + '</canvas><canvas class="map-marks"></canvas><div class="map-inset" hidden><canvas>'
      + '</canvas><span></span></div></div><p class="map-text" aria-live="polite"></p>';
    this.area = this.figure.querySelector('.map-area');
    this.points = this.figure.querySelector('.map-points');
    this.marks = this.figure.querySelector('.map-marks');
    this.inset = this.figure.querySelector('.map-inset');
    this.text = this.figure.querySelector('.map-text');
    this.area.addEventListener('pointermove', (e) => { if (e.pointerType !== 'touch') view.hover(this, e); });
    this.area.addEventListener('pointerleave', () => view.leave(this));
    this.area.addEventListener('click', (e) => view.pin(this, e));
  }

  setData(data, frame) {
    this.data = data; this.map = data.maps[this.model]; this.frame = frame;
    const title = this.view.config.model_titles[this.model];
    const [pc1, pc2] = this.map.explained.map((v) => Math.round(100 * v));
    this.figure.querySelector('figcaption').textContent = this.projection === 'pca'
      ? `${title} · PCA (PC1 ${pc1}%, PC2 ${pc2}% of the variance) · ${this.map.n} test images`
      : `${title} · UMAP · ${this.map.n} test images`;
    this.pinned = null;
    this.text.textContent = this.view.canDecode()
      ? `Point at the map: the ${title} decodes under the pointer; click or tap to pin a point.`
      : `Click or tap the map: the server decodes that point with the ${title}.`;
  }

  describe(star) {
    const title = this.view.config.model_titles[this.model];
    const label = `${title}'s latent map by ${this.projection.toUpperCase()}: ${this.map.n} ${this.data.title} test `
      + `images as dots coloured by class${star ? ', your drawing as a yellow star' : ''}`;
    this.figure.setAttribute('aria-label', label);
    this.points.setAttribute('aria-label', label);
  }

  // Data coordinates <-> CSS pixels of the map area (y up on the map).
  toPixel(x, y, w, h) {
    const [x0, x1, y0, y1] = this.map.extents[this.projection];
    return [(x - x0) / (x1 - x0) * w, (y1 - y) / (y1 - y0) * h];
  }

  toData(e) {
    const r = this.area.getBoundingClientRect(), [x0, x1, y0, y1] = this.map.extents[this.projection];
    const fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
    return {x: x0 + fx * (x1 - x0), y: y1 - fy * (y1 - y0), fx, fy};
  }

  size(canvas) { return sizedCanvas(canvas, this.area); }

  draw(star) {
    if (!this.map) return;
    const {ctx, w, h} = this.size(this.points);
    if (w < 2) return;
    const coords = this.projection === 'pca' ? this.map.pca : this.map.umap, {labels, n} = this.map;
    classPoints(ctx, coords, labels, n, this.data.colours, (x, y) => this.toPixel(x, y, w, h), POINT_RADIUS);
    ctx.font = `${NAME_FONT}px sans-serif`; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    for (const {label, median, place} of this.map.names[this.projection]) {
      const [mx, my] = this.toPixel(median[0], median[1], w, h), px = place[0] * w, py = (1 - place[1]) * h;
      const name = this.data.classes[label], colour = this.data.colours[label];
      const tw = ctx.measureText(name).width + 8, th = NAME_FONT + 5;
      if (Math.hypot(px - mx, py - my) > 0.02 * w) {
        ctx.strokeStyle = colour; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(mx, my); ctx.lineTo(px, py); ctx.stroke();
      }
      ctx.fillStyle = 'rgba(255, 255, 255, 0.85)'; ctx.strokeStyle = colour; ctx.lineWidth = 1.2;
      ctx.beginPath(); ctx.roundRect(px - tw / 2, py - th / 2, tw, th, 3); ctx.fill(); ctx.stroke();
      ctx.fillStyle = '#000'; ctx.fillText(name, px, py);
    }
    const at = star && star[this.model] && star[this.model][this.projection];
    if (at) {
      const [sx, sy] = this.toPixel(at[0], at[1], w, h);
      const cx = Math.min(Math.max(sx, STAR_RADIUS), w - STAR_RADIUS), cy = Math.min(Math.max(sy, STAR_RADIUS), h - STAR_RADIUS);
      fivePointStar(ctx, cx, cy, STAR_RADIUS);
      ctx.fillStyle = this.view.config.star; ctx.fill();
      ctx.strokeStyle = '#000'; ctx.lineWidth = 1.5; ctx.stroke();
    }
    this.describe(at);
    this.drawMarks(null);
  }

  // The crosshair at `pointer` ({x, y} in data coordinates, or null) and a ring at the pinned point.
  drawMarks(pointer) {
    if (!this.map) return;
    const {ctx, w, h} = this.size(this.marks);
    if (pointer) crosshair(ctx, ...this.toPixel(pointer.x, pointer.y, w, h), w, h);
    if (this.pinned) pinRing(ctx, ...this.toPixel(this.pinned.x, this.pinned.y, w, h));
  }

  // Show `bytes` (frame x frame, 0..255) in the inset, away from the point at fractions (fx, fy) of the map.
  showInset(bytes, note, fx, fy) {
    const canvas = this.inset.querySelector('canvas');
    canvas.width = this.frame; canvas.height = this.frame;
    paintGrey(canvas, bytes, this.frame, this.frame);
    this.inset.querySelector('span').textContent = note;
    this.inset.classList.toggle('left', fx > 0.55 && fy < 0.5);  // never over the point it shows
    this.inset.classList.remove('bottom');
    this.inset.hidden = false;
  }

  showPinned() {
    if (this.pinned && this.pinned.image) {
      const [x0, x1, y0, y1] = this.map.extents[this.projection];
      this.showInset(this.pinned.image, 'pinned', (this.pinned.x - x0) / (x1 - x0), (y1 - this.pinned.y) / (y1 - y0));
    } else {
      this.inset.hidden = true;
    }
  }
}

class MapView {
  constructor(root, server, config) {
    this.root = root; this.server = server; this.config = config;
    this.legend = root.querySelector('.maps-legend');
    this.grid = root.querySelector('.maps-grid');
    this.state = {dataset: null, star: null};
    this.maps = null;  // the page's map data (maps.js PageMaps), offered by the pad
    this.panels = config.panels.map(([model, projection]) => new MapPanel(this, model, projection));
    this.hovers = [];  // [pointer event time, inset shown time] of the latest hovers (for benchmarks)
    this.decoded = 0;
    this.taps = 0;
    this.queue = latestWins((hover) => this.decodeHover(hover), {name: 'decoding under the pointer'});
    let frame = null;
    new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => this.panels.forEach((p) => p.draw(this.state.star)));
    }).observe(this.grid);
  }

  canDecode() { return Boolean(this.maps && this.maps.models); }

  // The server's state: {dataset, star}. A new data set rebuilds the maps; a new star redraws them.
  async show(state) {
    if (!state) return;
    const switched = state.dataset !== this.state.dataset;
    this.state = state;
    if (!switched && this.data) { this.panels.forEach((p) => p.draw(state.star)); return; }
    this.legend.textContent = 'Loading the maps…';
    try {
      this.maps = await when('maps');
      const data = await this.maps.load(state.dataset);
      if (this.state !== state) return;  // a newer state came meanwhile
      this.data = data;
      this.legend.replaceChildren(...data.classes.map((name, label) => {
        const item = document.createElement('li'), swatch = document.createElement('span');
        swatch.className = 'swatch'; swatch.style.background = data.colours[label];
        item.append(swatch, name);
        return item;
      }));
      if (!this.grid.children.length) this.grid.append(...this.panels.map((p) => p.figure));
      this.panels.forEach((p) => { p.setData(data, this.config.frame); p.inset.hidden = true; p.draw(state.star); });
    } catch (err) {
      this.legend.textContent = '⚠️ The maps could not be loaded; reload the page to try again.';
      warnOnce('the live maps did not load', err);
    }
  }

  hover(panel, e) {
    if (!panel.map) return;
    const point = panel.toData(e);
    panel.hovered = true;
    panel.drawMarks(point);
    if (this.canDecode()) this.queue.request({panel, point, t: e.timeStamp || performance.now()});
  }

  async decodeHover({panel, point, t}) {
    // the data set the panel shows (while another one loads, the pointer is still over this one's map)
    const found = await this.maps.decodeAt(panel.data.dataset, panel.model, panel.projection, point.x, point.y);
    if (!found || !panel.hovered) return;  // the pointer left meanwhile
    panel.showInset(toBytes(found.image), 'under the pointer', point.fx, point.fy);
    this.decoded += 1;
    this.hovers.push([t, performance.now()]);
    if (this.hovers.length > 500) this.hovers.shift();
  }

  leave(panel) {
    panel.hovered = false;
    panel.drawMarks(null);
    panel.showPinned();
  }

  // A click or a tap: the point is pinned (ring, inset) and the server says how far it is from the data, decoding it
  // too where the page does not run the models.
  async pin(panel, e) {
    if (!panel.map) return;
    const point = panel.toData(e), token = {};
    const dataset = panel.data.dataset, title = this.config.model_titles[panel.model];
    panel.pinned = {x: point.x, y: point.y, image: null, token};
    panel.drawMarks(null);
    panel.text.textContent = `${title} at ${panel.projection.toUpperCase()} (${point.x.toFixed(2)}, `
      + `${point.y.toFixed(2)}): decoding…`;
    this.taps += 1;
    const inPage = this.canDecode()
      ? this.maps.decodeAt(dataset, panel.model, panel.projection, point.x, point.y).catch(() => null) : null;
    let answer;
    try {
      answer = await this.server.map_point({dataset, model: panel.model, projection: panel.projection,
                                            x: point.x, y: point.y});
    } catch (err) {
      answer = {error: `the server did not answer (${err && err.message ? err.message : err})`};
    }
    const found = await inPage;
    if (panel.pinned === null || panel.pinned.token !== token) return;  // a newer tap
    if (found) panel.pinned.image = toBytes(found.image);
    else if (answer && answer.image) panel.pinned.image = Uint8Array.from(atob(answer.image), (c) => c.charCodeAt(0));
    panel.text.textContent = answer && answer.summary ? answer.summary : `⚠️ ${answer ? answer.error : 'no answer'}`;
    panel.showPinned();
    panel.figure.dataset.pinned = 'true';
  }
}

// pad.js's `js_on_load` counterpart for the maps (ae_vae.app.mapview.MAPS_LOADER): the component's element, its
// props (the value: the server's state as JSON), its server functions and `watch`, and the page's config.
export function startMapView(element, props, server, watch, config) {
  const root = element.querySelector('.maps-view');
  const view = new MapView(root, server, config);
  const read = () => {
    try { return JSON.parse(props.value); } catch (err) { warnOnce('the maps state could not be read', err); return null; }
  };
  view.show(read());
  watch('value', () => view.show(read()));
  root.querySelector('.maps-notice').hidden = true;
  root.aeVaeMaps = view;  // the handle tests and benchmarks use
}
