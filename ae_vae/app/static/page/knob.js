// The KL knob in the page: a data set's β-conditioned VAE (ae_vae.app.knob) as ONNX sessions whose second input is
// β, and what the β tab asks of it at one β: the drawing's reconstruction from its posterior mean with its rate and
// distortion (the curve's estimator, as ae_vae.app.knob computes them), the tab's N(0, I) draws decoded, and a point
// of the latent map at β decoded.

import {graphSession, posteriorStd} from './models.js';
import {loadRuntime} from './runtime.js';
import {NeverComing, writtenData} from './services.js';

// Bytes and little-endian float32s from base64 (what the server sends).
export const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const floats = (b64) => new Float32Array(bytes(b64).buffer);

// KL(q(z|x) || N(0, I)) in nats, the log-variance clamped as the server clamps it.
export function rateOf(mean, logvar, range) {
  const std = posteriorStd(logvar, range);
  let rate = 0;
  for (let i = 0; i < mean.length; i++) {
    const variance = std[i] * std[i];
    rate += 0.5 * (mean[i] * mean[i] + variance - 1 - Math.log(variance));
  }
  return rate;
}

// −log p(x|z) in nats under the Bernoulli likelihood, probabilities clipped to [floor, 1 − floor].
export function distortionOf(input, probabilities, floor) {
  let total = 0;
  for (let i = 0; i < input.length; i++) {
    const p = Math.min(Math.max(probabilities[i], floor), 1 - floor);
    total -= input[i] * Math.log(p) + (1 - input[i]) * Math.log1p(-p);
  }
  return total;
}

// The tab's data of one data set (ae_vae.app.page.knob_data): the curve, the reference points, the fixed draws, and
// the latent map along β with the place of a code at β.
export class KnobData {
  constructor(data) {
    Object.assign(this, {dataset: data.dataset, title: data.title, classes: data.classes, colours: data.colours,
                         curve: data.curve, reference: data.reference});
    const map = data.map;
    this.betas = map.betas; this.n = map.n; this.extent = map.extent;
    this.labels = bytes(map.labels); this.positions = floats(map.positions);
    this.means = floats(map.means); this.components = floats(map.components);
    this.d = this.means.length / this.betas.length;
    this.draws = floats(data.draws);
  }

  // The grid's two β values around `beta` and how far between them (in log β).
  bracket(beta) {
    const logs = this.betas.map(Math.log), b = Math.log(beta), last = logs.length - 1;
    let g = 0;
    while (g < last - 1 && logs[g + 1] < b) g++;
    const t = Math.min(Math.max((b - logs[g]) / (logs[g + 1] - logs[g]), 0), 1);
    return {g, t};
  }

  // Every stored point's place at `beta` (Float32Array of 2n), between its places at the neighbouring grid β values.
  placesAt(beta) {
    const {g, t} = this.bracket(beta), size = 2 * this.n, out = new Float32Array(size);
    const a = g * size, b = (g + 1) * size;
    for (let i = 0; i < size; i++) out[i] = (1 - t) * this.positions[a + i] + t * this.positions[b + i];
    return out;
  }

  // The grid's plane nearest to `beta` in log β: its mean and two components (ae_vae.app.knob.BetaMapGrid.nearest).
  plane(beta) {
    const logs = this.betas.map(Math.log), b = Math.log(beta), d = this.d;
    let g = 0;
    logs.forEach((v, i) => { if (Math.abs(v - b) < Math.abs(logs[g] - b)) g = i; });
    return {mean: this.means.subarray(g * d, (g + 1) * d), c: this.components.subarray(g * 2 * d, (g + 1) * 2 * d)};
  }

  // Where a code at `beta` lands: on the plane of the grid's nearest β (ae_vae.app.knob.BetaMapGrid.place).
  place(code, beta) {
    const {mean, c} = this.plane(beta), d = this.d;
    let x = 0, y = 0;
    for (let i = 0; i < d; i++) { const v = code[i] - mean[i]; x += v * c[i]; y += v * c[d + i]; }
    return [x, y];
  }

  // The code at map point (x, y) at `beta`: that point of the nearest plane (ae_vae.app.knob.BetaMapGrid.code_at).
  codeAt(x, y, beta) {
    const {mean, c} = this.plane(beta), d = this.d, code = new Float32Array(d);
    for (let i = 0; i < d; i++) code[i] = mean[i] + x * c[i] + y * c[d + i];
    return code;
  }
}

export class PageKnob {
  // config: the page's config (its `knobs`: each data set's graphs, range and data URL); root: the app's root URL.
  // ask: the server function that says when a data set's tab data is written (`writtenData`).
  constructor(config, root, ask) {
    const url = (path) => new URL(path, root).href;
    this.ask = ask;
    this.asks = config.data_asks;
    this.vendorUrl = url(config.vendor);
    this.knobs = Object.fromEntries(Object.entries(config.knobs || {}).map(([dataset, k]) => [dataset, {
      ...k, encoder: url(k.encoder), decoder: url(k.decoder), data: url(k.data)}]));
    this.logvarRange = config.logvar_range;
    this.floor = config.probability_floor;
    this.frame = config.frame;
    this.data = new Map();  // dataset -> Promise<KnobData>
    this.busy = Promise.resolve();
  }

  has(dataset) { return Boolean(this.knobs[dataset]); }

  // The data set's tab data, once the server has written it (as it starts): a failed load is tried again on the
  // next ask, unless the server has none.
  load(dataset) {
    if (!this.data.has(dataset)) {
      const loading = writtenData(this.ask, this.asks, {data: 'knob', dataset}, this.knobs[dataset].data,
                                  `the β tab's data of ${dataset}`).then((d) => new KnobData(d));
      loading.catch((err) => { if (!(err instanceof NeverComing)) this.data.delete(dataset); });
      this.data.set(dataset, loading);
    }
    return this.data.get(dataset);
  }

  async sessions(dataset) {
    const knob = this.knobs[dataset];
    const [ort, encoder, decoder] = await Promise.all([loadRuntime(this.vendorUrl),
      graphSession(this.vendorUrl, knob.encoder), graphSession(this.vendorUrl, knob.decoder)]);
    return {ort, encoder, decoder, d: knob.latent_dim};
  }

  // At `beta`: {samples: the draws decoded (frame² Float32Arrays), drawing: null or {image, rate, distortion, code}}
  // for `input` (the drawing's model input, Float32Array of frame², or null). One decoder run for all of them.
  at(dataset, beta, input, draws) {
    const run = async () => {
      const {ort, encoder, decoder, d} = await this.sessions(dataset);
      const pixels = this.frame * this.frame, count = draws.length / d;
      let posterior = null;
      if (input) {
        posterior = await encoder.run({image: new ort.Tensor('float32', input, [1, 1, this.frame, this.frame]),
                                       beta: new ort.Tensor('float32', Float32Array.of(beta), [1])});
      }
      const rows = count + (posterior ? 1 : 0), z = new Float32Array(rows * d);
      z.set(draws);
      if (posterior) z.set(posterior.mean.data, count * d);
      const decoded = (await decoder.run({z: new ort.Tensor('float32', z, [rows, d]),
                                          beta: new ort.Tensor('float32', new Float32Array(rows).fill(beta), [rows])}))
        .image.data;
      const tile = (i) => decoded.slice(i * pixels, (i + 1) * pixels);
      const samples = Array.from({length: count}, (_, i) => tile(i));
      if (!posterior) return {samples, drawing: null};
      const image = tile(count), mean = Float32Array.from(posterior.mean.data);
      return {samples, drawing: {image, code: mean, rate: rateOf(mean, posterior.logvar.data, this.logvarRange),
                                 distortion: distortionOf(input, image, this.floor)}};
    };
    return this.queued(run);
  }

  // `code` (Float32Array of the latent size) decoded at `beta`: frame² probabilities.
  decode(dataset, beta, code) {
    return this.queued(async () => {
      const {ort, decoder, d} = await this.sessions(dataset);
      const out = await decoder.run({z: new ort.Tensor('float32', code, [1, d]),
                                     beta: new ort.Tensor('float32', Float32Array.of(beta), [1])});
      return Float32Array.from(out.image.data);
    });
  }

  // One run of the knob's sessions at a time, in the order asked.
  queued(run) {
    const result = this.busy.then(run, run);
    this.busy = result.catch(() => {});
    return result;
  }
}
