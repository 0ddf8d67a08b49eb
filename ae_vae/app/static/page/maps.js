// The Embeddings tab in the page: the pointer over a map is decoded under it, continuously, by that map's model
// (as Explorer.map_position + Navigator.latent_at + decode do on the server), with a crosshair drawn in the page.
// A click still goes to the server, which pins the point with its text.

import {imageIn, onPointerOver, overlayOnImage} from './dom.js';
import {showImage} from './images.js';
import {latestWins, warnOnce} from './latest.js';

function floats(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

// The stored map of one model, and the latent at a map position: PCA exactly (mean + x c1 + y c2), UMAP as the
// 1/d²-weighted codes of the nearest map point in each of `sectors` directions (ae_vae.latent.navigation).
class ModelMap {
  constructor(data, sectors) {
    this.n = data.n; this.d = data.d; this.sectors = sectors;
    this.latents = floats(data.latents); this.umap = floats(data.umap);
    this.mean = floats(data.pca_mean); this.components = floats(data.pca_components);
    this.directions = data.directions.map((d) => ({vector: floats(d.vector), std: d.std}));
  }

  // latent + Σ sigma_i · std_i · direction_i (ae_vae.latent.navigation.Navigator.walk).
  walk(latent, sigmas) {
    const z = Float64Array.from(latent);
    this.directions.forEach((direction, i) => {
      const step = (sigmas[i] || 0) * direction.std;
      for (let k = 0; k < z.length; k++) z[k] += step * direction.vector[k];
    });
    return Float32Array.from(z);
  }

  latentAt(projection, x, y) {
    const {d} = this, z = new Float32Array(d);
    if (projection === 'pca') {
      for (let i = 0; i < d; i++) z[i] = this.mean[i] + x * this.components[i] + y * this.components[d + i];
      return z;
    }
    const best = new Int32Array(this.sectors).fill(-1), bestD = new Float64Array(this.sectors).fill(Infinity);
    let nearest = 0, nearestD = Infinity;
    for (let p = 0; p < this.n; p++) {
      const dx = this.umap[2 * p] - x, dy = this.umap[2 * p + 1] - y, dist = Math.hypot(dx, dy);
      if (dist < nearestD) { nearestD = dist; nearest = p; }
      const s = Math.floor((Math.atan2(dy, dx) + Math.PI) / (2 * Math.PI) * this.sectors) % this.sectors;
      if (dist < bestD[s]) { bestD[s] = dist; best[s] = p; }
    }
    if (nearestD < 1e-9) return this.latents.slice(nearest * d, (nearest + 1) * d);
    const acc = new Float64Array(d);
    let total = 0;
    for (let s = 0; s < this.sectors; s++) {
      if (best[s] < 0) continue;
      const w = 1 / (bestD[s] * bestD[s]);
      total += w;
      for (let i = 0; i < d; i++) acc[i] += w * this.latents[best[s] * d + i];
    }
    for (let i = 0; i < d; i++) z[i] = acc[i] / total;
    return z;
  }
}

export class PageMaps {
  // state: {dataset()}, the data set the page shows.
  constructor(config, root, models, state) {
    this.urls = Object.fromEntries(Object.entries(config.maps || {}).map(([k, v]) => [k, new URL(v, root).href]));
    this.models = models;
    this.state = state;
    this.frameSize = config.frame;
    this.output = {ae: config.ids.click_ae, vae: config.ids.click_vae};
    this.data = new Map();  // dataset -> Promise of {panels, size, maps}
    this.loaded = new Set();  // data sets whose map data has arrived
    this.hovers = [];  // [pointer event time, image shown time] of the latest hovers (for benchmarks)
    this.decoded = 0;
    this.queue = latestWins((hover) => this.run(hover), {name: 'decoding under the pointer'});
    // The Embeddings tab may mount after this runs (and remount): dom.js listens on the document.
    onPointerOver(config.ids.maps_plot, (e, plot) => this.move(e, plot), (plot) => this.hideCrosshair(plot));
  }

  load(dataset) {
    if (!this.data.has(dataset)) {
      const url = this.urls[dataset];
      const loading = url ? fetch(url).then((r) => {
        if (!r.ok) throw new Error(`map data: HTTP ${r.status}`);
        return r.json();
      }).then((d) => {
        this.loaded.add(dataset);
        return {panels: d.panels, size: d.size,
                maps: {ae: new ModelMap(d.models.ae, d.sectors), vae: new ModelMap(d.models.vae, d.sectors)}};
      })
        : Promise.reject(new Error(`no in-page maps for ${dataset}`));
      loading.catch((err) => {  // written at start-up: try again
        warnOnce(`the map data of ${dataset} did not load (tried again)`, err);
        setTimeout(() => this.data.delete(dataset), 2000);
      });
      this.data.set(dataset, loading);
      return loading;
    }
    return this.data.get(dataset);
  }

  // Fetch a data set's map data ahead of the first hover (the server writes it while it starts: retried).
  prefetch(dataset, tries = 15) {
    this.load(dataset).catch(() => { if (tries > 1) setTimeout(() => this.prefetch(dataset, tries - 1), 2000); });  // said by load
  }

  // The pointer's position in the maps image's own pixels, or null off the image.
  static imagePixel(img, e) {
    if (!img || !img.naturalWidth) return null;
    const r = img.getBoundingClientRect(), fit = getComputedStyle(img).objectFit;
    let scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
    if (fit === 'scale-down') scale = Math.min(scale, 1);
    if (fit === 'none') scale = 1;
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    const left = r.left + (r.width - w) / 2, top = r.top + (r.height - h) / 2;
    const px = (e.clientX - left) / scale, py = (e.clientY - top) / scale;
    if (px < 0 || py < 0 || px > img.naturalWidth || py > img.naturalHeight) return null;
    return {px, py, scale, left: left - r.left, top: top - r.top, w, h};
  }

  move(e, plot) {
    const img = imageIn(plot);
    const at = PageMaps.imagePixel(img, e);
    if (!at) { this.hideCrosshair(plot); return; }
    this.queue.request({at, img, plot, t: e.timeStamp || performance.now(), dataset: this.state.dataset()});
  }

  async run({at, img, plot, t, dataset}) {
    const found = await this.decodeAt(dataset, at.px, at.py, img);
    if (!found) { this.hideCrosshair(plot); return; }
    const {panel, image} = found;
    showImage(this.output[panel.model], image, this.frameSize);
    this.drawCrosshair(plot, img, at, panel);
    this.decoded += 1;
    this.hovers.push([t, performance.now()]);
    if (this.hovers.length > 500) this.hovers.shift();
  }

  // The maps image's pixel (px, py) -> {panel, x, y, latent, image}: that panel's model decoding its data point
  // (x, y); null outside the plot areas (or when `img` is not the rendering the map data describes).
  async decodeAt(dataset, px, py, img = null) {
    const data = await this.load(dataset);
    if (img && (data.size[0] !== img.naturalWidth || data.size[1] !== img.naturalHeight)) return null;
    const panel = data.panels.find((p) => px >= p.box[0] && px <= p.box[2] && py >= p.box[1] && py <= p.box[3]);
    if (!panel) return null;
    const [a, b, c, d, e, f] = panel.affine;  // [px, py] = [[a, b, c], [d, e, f]] @ [x, y, 1]
    const det = a * e - b * d, qx = px - c, qy = py - f;
    const x = (e * qx - b * qy) / det, y = (a * qy - d * qx) / det;
    const latent = data.maps[panel.model].latentAt(panel.projection, x, y);
    const image = await this.models.decode(dataset, panel.model, latent);
    return {panel, x, y, latent, image};
  }

  drawCrosshair(plot, img, at, panel) {
    const canvas = overlayOnImage(plot, 'map-crosshair'), host = canvas.parentElement.getBoundingClientRect();
    const r = img.getBoundingClientRect();
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    Object.assign(canvas.style, {left: `${r.left - host.left + at.left}px`, top: `${r.top - host.top + at.top}px`,
                                 width: `${at.w}px`, height: `${at.h}px`});
    const ctx = canvas.getContext('2d'), [x0, y0, x1, y1] = panel.box;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.55)'; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x0, at.py); ctx.lineTo(x1, at.py); ctx.moveTo(at.px, y0); ctx.lineTo(at.px, y1);
    ctx.stroke();
    ctx.strokeStyle = '#d62728'; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(at.px, at.py, 6, 0, 2 * Math.PI); ctx.stroke();
    canvas.hidden = false;
  }

  hideCrosshair(plot) {
    const canvas = plot && overlayOnImage(plot, 'map-crosshair', false);
    if (canvas) canvas.hidden = true;
  }
}
