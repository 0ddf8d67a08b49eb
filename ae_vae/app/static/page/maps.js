// The map data in the page (ae_vae.app.page.map_data), fetched once per data set and shared: each model's stored map
// points and codes, and the latent at a map position, as the server's Navigator.latent_at computes it; the live maps
// (mapview.js) draw it and the walk (walk.js) moves codes along its directions.

import {warnOnce} from './latest.js';
import {NeverComing, writtenData} from './services.js';

function bytes(b64) { return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); }
function floats(b64) { return new Float32Array(bytes(b64).buffer); }

// The stored map of one model, and the latent at a map position: PCA exactly (mean + x c1 + y c2), UMAP as the
// 1/d²-weighted codes of the nearest map point in each of `sectors` directions (ae_vae.latent.navigation).
class ModelMap {
  constructor(data, sectors) {
    this.n = data.n; this.d = data.d; this.sectors = sectors;
    this.latents = floats(data.latents); this.umap = floats(data.umap); this.pca = floats(data.pca);
    this.labels = bytes(data.labels); this.explained = data.explained;
    this.extents = data.extents; this.names = data.names;
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
  // models: the PageModels that decode a latent, or null while (or where) the page does not run them.
  // ask: the server function that says when a data set's map data is written (`writtenData`).
  constructor(config, root, ask) {
    this.urls = Object.fromEntries(Object.entries(config.maps || {}).map(([k, v]) => [k, new URL(v, root).href]));
    this.ask = ask;
    this.asks = config.data_asks;
    this.models = null;
    this.data = new Map();  // dataset -> Promise of {dataset, title, classes, colours, maps: {ae, vae}}
    this.loaded = new Set();  // data sets whose map data has arrived
  }

  load(dataset) {
    if (!this.data.has(dataset)) {
      const url = this.urls[dataset];
      const loading = url ? writtenData(this.ask, this.asks, {data: 'maps', dataset}, url,
                                        `the map data of ${dataset}`).then((d) => {
        this.loaded.add(dataset);
        return {dataset: d.dataset, title: d.title, classes: d.classes, colours: d.colours,
                maps: {ae: new ModelMap(d.models.ae, d.sectors), vae: new ModelMap(d.models.vae, d.sectors)}};
      })
        : Promise.reject(new Error(`no in-page maps for ${dataset}`));
      loading.catch((err) => {  // not loaded: said once; the next use loads again unless the server has none
        warnOnce(`the map data of ${dataset} did not load`, err);
        if (!(err instanceof NeverComing)) this.data.delete(dataset);
      });
      this.data.set(dataset, loading);
      return loading;
    }
    return this.data.get(dataset);
  }

  // Fetch a data set's map data ahead of its first use (a failure is said by load, and the next use loads again).
  prefetch(dataset) {
    this.load(dataset).catch(() => {});
  }

  // The map point (x, y) of `model`'s `projection` map decoded in the page: {latent, image}; null where the page
  // does not run the models.
  async decodeAt(dataset, model, projection, x, y) {
    if (!this.models) return null;
    const data = await this.load(dataset);
    const latent = data.maps[model].latentAt(projection, x, y);
    return {latent, image: await this.models.decode(dataset, model, latent)};
  }
}
