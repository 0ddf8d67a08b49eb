// The AE and the VAE of a data set, in the page: ONNX sessions of each folder's encoder.onnx and decoder.onnx
// (ae_vae.models.graphs), and what the Draw tab, the maps and the sliders ask of them.

import {loadRuntime} from './runtime.js';

const sessions = new Map();  // url -> Promise<InferenceSession>

// A graph's bytes, fetched at once (while the runtime starts, not after it; the page's <head> may have preloaded it).
function graphBytes(url) {
  return fetch(url).then((response) => {
    if (!response.ok) throw new Error(`${url.split('/').pop()}: HTTP ${response.status}`);
    return response.arrayBuffer();
  }).then((buffer) => new Uint8Array(buffer));
}

function session(runtime, url) {
  if (!sessions.has(url)) {
    const bytes = graphBytes(url);
    const created = Promise.all([runtime, bytes]).then(([ort, graph]) => ort.InferenceSession.create(
      graph, {executionProviders: ['wasm'], graphOptimizationLevel: 'all'}));
    created.catch(() => sessions.delete(url));
    sessions.set(url, created);
  }
  return sessions.get(url);
}

// The session of one graph (fetched once per page, whoever asks first), on the page's one runtime.
export function graphSession(vendorUrl, url) { return session(loadRuntime(vendorUrl), url); }

// The posterior's standard deviation from the encoder's log-variance, clamped to `range` ([low, high]) as the server
// clamps it (ae_vae.runtime.Posterior.clamped), float32 as there.
export function posteriorStd(logvar, [low, high]) {
  return Float32Array.from(logvar, (v) => Math.exp(0.5 * Math.min(Math.max(v, low), high)));
}

export class PageModels {
  // graphs: {dataset: {ae: {encoder, decoder, latent_dim}, vae: {...}}}: the URLs of each folder's graphs;
  // logvarRange: [low, high], the clamp of the VAE's posterior log-variance (ae_vae.models.config.LOGVAR_RANGE).
  constructor(vendorUrl, graphs, logvarRange, frame) {
    this.vendorUrl = vendorUrl;
    this.graphs = graphs;
    this.logvarRange = logvarRange;
    this.frame = frame;  // model inputs and outputs are frame x frame images
    this.busy = Promise.resolve();
  }

  has(dataset) { return Boolean(this.graphs[dataset]); }

  async load(dataset) {
    const pair = this.graphs[dataset];
    if (!pair) throw new Error(`no in-page models for ${dataset}`);
    const runtime = loadRuntime(this.vendorUrl);
    const [aeEncoder, aeDecoder, vaeEncoder, vaeDecoder] = await Promise.all([
      session(runtime, pair.ae.encoder), session(runtime, pair.ae.decoder),
      session(runtime, pair.vae.encoder), session(runtime, pair.vae.decoder)]);
    const ort = await runtime;
    return {ort, ae: {encoder: aeEncoder, decoder: aeDecoder, latentDim: pair.ae.latent_dim},
            vae: {encoder: vaeEncoder, decoder: vaeDecoder, latentDim: pair.vae.latent_dim}};
  }

  // One call at a time: a session runs one inference at a time, and queued frames would be stale anyway.
  exclusive(task) {
    const run = this.busy.then(task, task);
    this.busy = run.catch(() => {});
    return run;
  }

  // The model input (Float32Array of frame²) -> {ae, vae}: each model's reconstruction (the VAE's from its
  // posterior mean), Float32Arrays of frame² in [0, 1]: `analyse` without posterior samples.
  async reconstruct(dataset, input) {
    const {ae, vae} = await this.analyse(dataset, input, []);
    return {ae, vae};
  }

  // The model input -> what the Draw tab shows of it: {aeCode, vaeMean, ae, vae, samples}, the AE's code, the VAE's
  // posterior mean, both reconstructions (the VAE's of its mean) and the VAE's posterior samples, mean + std * noise[i]
  // for each of the `noise` draws (the server's: ae_vae.app.explorer.posterior_noise), decoded with the mean in one run.
  analyse(dataset, input, noise) {
    return this.exclusive(async () => {
      const {ort, ae, vae} = await this.load(dataset);
      const image = new ort.Tensor('float32', input, [1, 1, this.frame, this.frame]);
      const aeCode = (await ae.encoder.run({image})).code;
      const posterior = await vae.encoder.run({image});
      const mean = posterior.mean.data, logvar = posterior.logvar.data, d = vae.latentDim;
      const std = posteriorStd(logvar, this.logvarRange);
      const z = new Float32Array((1 + noise.length) * d);
      z.set(mean);
      noise.forEach((eps, i) => {
        for (let j = 0; j < d; j++) z[(i + 1) * d + j] = mean[j] + std[j] * eps[j];
      });
      const aeImage = (await ae.decoder.run({z: aeCode})).image.data;
      const decoded = (await vae.decoder.run({z: new ort.Tensor('float32', z, [1 + noise.length, d])})).image.data;
      const pixels = this.frame * this.frame, tile = (i) => decoded.slice(i * pixels, (i + 1) * pixels);
      return {aeCode: aeCode.data, vaeMean: Float32Array.from(mean), ae: aeImage, vae: tile(0),
              samples: noise.map((_, i) => tile(i + 1))};
    });
  }

  // The model input -> {ae, vae}: the AE's code and the VAE's posterior mean (Float32Arrays).
  encode(dataset, input) {
    return this.exclusive(async () => {
      const {ort, ae, vae} = await this.load(dataset);
      const image = new ort.Tensor('float32', input, [1, 1, this.frame, this.frame]);
      return {ae: (await ae.encoder.run({image})).code.data, vae: (await vae.encoder.run({image})).mean.data};
    });
  }

  // A code of `model` ("ae" | "vae") -> its decoded image (Float32Array of frame²).
  decode(dataset, model, code) {
    return this.exclusive(async () => {
      const loaded = await this.load(dataset);
      const z = new loaded.ort.Tensor('float32', Float32Array.from(code), [1, loaded[model].latentDim]);
      return (await loaded[model].decoder.run({z})).image.data;
    });
  }
}
