// The Draw tab in the page: each frame of the pad becomes the model input and both reconstructions here, drawn
// into the tab's own image components; the final frame (pointer-up, undo) also the posterior samples and the error
// numbers, and what the server needs to add the rest (typicality, neighbours): pad.js sends it with the ink, once.

import {modelInput} from './framing.js';
import {PageModels} from './models.js';
import {hideImages} from './dom.js';
import {showGrid, showImage} from './images.js';
import {latestWins, warnOnce} from './latest.js';

const b64 = (array) => {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
};
const mse = (a, b) => { let s = 0; for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2; return s / a.length; };

// What the page computed of a final frame, as the server reads it (the twin of ae_vae.app.pad.encode_page_results):
// "|page:<data set>:<fill 0|1>:<model input, uint8>:<AE code>:<VAE mean>:<errors>", float32.
export function pagePart(dataset, fill, input, result) {
  const pixels = Uint8Array.from(input, (v) => Math.floor(Math.min(Math.max(v, 0), 1) * 0xff + 0.5));
  const errors = Float32Array.from([mse(result.ae, input), mse(result.vae, input),
                                    ...result.samples.map((s) => mse(s, input))]);
  return `|page:${dataset}:${fill ? 1 : 0}:${b64(pixels)}:${b64(result.aeCode)}:${b64(result.vaeMean)}:${b64(errors)}`;
}

let started = null;

// The page's models, started once: from the page's <head> (ae_vae.app.page.preload_head) while Gradio mounts the
// app, or by the pad if it comes first. The started PageDraw (the config's first data set loaded and run once);
// rejects with the reason when this browser cannot run the models.
export function startedDraw(config, root) {
  if (!started) {
    started = (async () => {
      const draw = new PageDraw(config, root);
      await draw.start(config.graphs[config.dataset] ? config.dataset : Object.keys(config.graphs)[0]);
      return draw;
    })();
  }
  return started;
}

export class PageDraw {
  constructor(config, root) {
    const url = (path) => new URL(path, root).href;
    const graphs = {};
    for (const [dataset, pair] of Object.entries(config.graphs)) {
      graphs[dataset] = Object.fromEntries(Object.entries(pair).map(([kind, g]) => [kind, {
        encoder: url(g.encoder), decoder: url(g.decoder), latent_dim: g.latent_dim}]));
    }
    this.config = config;
    this.ids = config.ids;
    this.frameSize = config.frame;
    this.noise = Object.fromEntries(Object.entries(config.graphs).map(([dataset, pair]) => [dataset, pair.vae.noise]));
    this.models = new PageModels(url(config.vendor), graphs, config.logvar_range, config.frame);
    this.shown = [this.ids.model_input, this.ids.ae_recon, this.ids.vae_recon, this.ids.vae_samples,
                  this.ids.walk_ae, this.ids.walk_vae];
    this.frames = 0;        // in-page frames shown (for tests and benchmarks)
    this.lastMs = null;     // the last frame's time, framing to drawn
    this.shownAt = [];      // performance.now() of the latest frames shown
    this.readyAt = null;    // when the models had given their first answer
    this.last = null;       // the latest frame shown: {elemId: frame² floats in [0, 1]}
    this.drawing = null;    // the latest final frame's {reduced, dataset, fill}: the drawing the walk moves
    this.cleared = 0;       // clears so far: a frame computed across one is not shown
    this.queue = latestWins((frame) => this.run(frame), {
      name: 'a frame of the pad', dropped: (frame) => frame.done && frame.done(false)});
  }

  // Loads the runtime and the first data set's models; rejects with the reason when the page cannot run them.
  async start(dataset) {
    if (!this.models.has(dataset)) return;
    this.startedAt = performance.now();  // (these three for benchmarks: where the first answer's time goes)
    await this.models.load(dataset);
    this.loadedAt = performance.now();
    await this.models.reconstruct(dataset, new Float32Array(this.frameSize ** 2));  // the first run compiles
    this.readyAt = performance.now();
  }

  runsIn(dataset) { return this.models.has(dataset); }

  // A frame of the pad: its reduced ink (pad.js `reduce`). Only the latest waiting frame is run.
  frame(reduced, dataset, fill) { this.queue.request({reduced, dataset, fill, done: null}); }

  // The final frame: everything the page shows of the drawing, then (resolved) the part pad.js appends to the ink
  // for the server; null when the page could not compute it (the server then computes everything); false when a
  // newer frame or a clear came first (nothing to send).
  final(reduced, dataset, fill) {
    return new Promise((done) => this.queue.request({reduced, dataset, fill, done}));
  }

  async run({reduced, dataset, fill, done}) {
    const start = performance.now(), cleared = this.cleared;
    let part = null;
    try {
      const input = modelInput(reduced, this.config.framings[dataset], fill);
      if (done) {
        const result = await this.models.analyse(dataset, input, this.noise[dataset]);
        if (cleared !== this.cleared) { part = false; return; }  // the drawing was cleared or replaced meanwhile
        this.show(input, result.ae, result.vae);
        const {vae_samples: samples, walk_ae: walkAe, walk_vae: walkVae} = this.ids;
        showGrid(samples, result.samples, result.samples.length, this.frameSize, this.config.grid);
        showImage(walkAe, result.ae, this.frameSize); showImage(walkVae, result.vae, this.frameSize);
        this.drawing = {reduced, dataset, fill};
        part = pagePart(dataset, fill, input, result);
      } else {
        const {ae, vae} = await this.models.reconstruct(dataset, input);
        if (cleared !== this.cleared) return;
        this.show(input, ae, vae);
      }
      this.lastMs = performance.now() - start;
    } catch (err) {
      // an empty or unusable drawing, or the models failed: the server's answer to the ink says why (and shows what
      // it can); nothing of an earlier drawing stays
      if (done) { hideImages(this.shown); this.drawing = null; }
      warnOnce('the page could not reconstruct this frame; the server answers it', err);
    } finally {
      if (done) done(part);
    }
  }

  show(input, ae, vae) {
    const {model_input: modelId, ae_recon: aeId, vae_recon: vaeId} = this.ids;
    showImage(modelId, input, this.frameSize); showImage(aeId, ae, this.frameSize); showImage(vaeId, vae, this.frameSize);
    this.last = {[modelId]: input, [aeId]: ae, [vaeId]: vae};
    this.frames += 1;
    this.shownAt.push(performance.now());
    if (this.shownAt.length > 500) this.shownAt.shift();
  }

  // The current drawing's model input framed for `dataset` and `fill` (a switch of either frames it anew, as the
  // server does), or null when the drawing is not the page's own (an upload, an example) or there is none.
  currentInput(dataset, fill) {
    if (!this.drawing) return null;
    return modelInput(this.drawing.reduced, this.config.framings[dataset], fill);
  }

  // The pad was emptied, or another input replaced the drawing: no frame waits, and nothing the page drew stays.
  clear() {
    this.cleared += 1;
    this.queue.cancel();
    this.last = null;
    this.drawing = null;
    hideImages(this.shown);
  }

  idle() { return this.queue.idle(); }
}
