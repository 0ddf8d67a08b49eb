// The Draw tab in the page: each frame of the pad becomes the model input and both reconstructions here, drawn
// into the tab's own image components; the final frame (pointer-up, undo) also the posterior samples and the error
// numbers, and what the server needs to add the rest (typicality, neighbours): pad.js sends it with the ink, once.

import {FRAME, modelInput} from './framing.js';
import {PageModels} from './models.js';
import {hideImages, showGrid, showImage} from './canvas.js';

// The Draw tab's components the page draws a drawing into.
const SHOWN = ['model-input', 'ae-recon', 'vae-recon', 'vae-samples', 'walk-ae', 'walk-vae'];

const b64 = (array) => {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
};
const mse = (a, b) => { let s = 0; for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2; return s / a.length; };

// What the page computed of a final frame, as the server reads it (the twin of ae_vae.app.pad.encode_page_results): "|page:<data set>:<fill 0|1>:<model input, uint8>:<AE code>:<VAE mean>:<errors>", float32.
export function pagePart(dataset, fill, input, result) {
  const pixels = Uint8Array.from(input, (v) => Math.floor(Math.min(Math.max(v, 0), 1) * 255 + 0.5));
  const errors = Float32Array.from([mse(result.ae, input), mse(result.vae, input),
                                    ...result.samples.map((s) => mse(s, input))]);
  return `|page:${dataset}:${fill ? 1 : 0}:${b64(pixels)}:${b64(result.aeCode)}:${b64(result.vaeMean)}:${b64(errors)}`;
}

export class PageDraw {
  constructor(config, root) {
    const url = (path) => new URL(path, root).href;
    const graphs = {};
    for (const [dataset, pair] of Object.entries(config.graphs)) {
      graphs[dataset] = Object.fromEntries(Object.entries(pair).map(([kind, g]) => [kind, {
        encoder: url(g.encoder), decoder: url(g.decoder), latent_dim: g.latent_dim}]));
    }
    this.noise = Object.fromEntries(Object.entries(config.graphs).map(([dataset, pair]) => [dataset, pair.vae.noise]));
    this.models = new PageModels(url(config.vendor), graphs);
    this.frames = 0;        // in-page frames shown (for tests and benchmarks)
    this.lastMs = null;     // the last frame's time, framing to drawn
    this.shownAt = [];      // performance.now() of the latest frames shown
    this.readyAt = null;    // when the models had given their first answer
    this.last = null;       // the latest frame shown: {elemId: 784 floats in [0, 1]}
    this.running = false;
    this.pending = null;
    this.cleared = 0;       // clears so far: a frame computed across one is not shown
  }

  // Loads the runtime and the first data set's models; rejects with the reason when the page cannot run them.
  async start(dataset) {
    if (!this.models.has(dataset)) return;
    await this.models.load(dataset);
    const warm = new Float32Array(FRAME * FRAME);
    await this.models.reconstruct(dataset, warm);  // the first run compiles: not while someone draws
    this.readyAt = performance.now();
  }

  runsIn(dataset) { return this.models.has(dataset); }

  // A frame of the pad: its reduced ink (pad.js `reduce`). Only the latest waiting frame is run.
  frame(reduced, dataset, fill) {
    this.enqueue({reduced, dataset, fill, done: null});
  }

  // The final frame: everything the page shows of the drawing, then (resolved) the part pad.js appends to the ink
  // for the server; null when the page could not compute it (the server then computes everything); false when a
  // newer frame or a clear came first (nothing to send).
  final(reduced, dataset, fill) {
    return new Promise((done) => this.enqueue({reduced, dataset, fill, done}));
  }

  enqueue(frame) {  // (null: drop the waiting frame)
    if (this.pending && this.pending.done) this.pending.done(false);  // superseded
    this.pending = frame;
    if (frame && !this.running) this.drain();
  }

  async drain() {
    this.running = true;
    while (this.pending) {
      const {reduced, dataset, fill, done} = this.pending;
      this.pending = null;
      const start = performance.now(), cleared = this.cleared;
      let input, part = null;
      try {
        input = modelInput(reduced, dataset, fill);
        if (done) {
          const result = await this.models.analyse(dataset, input, this.noise[dataset]);
          if (cleared !== this.cleared) { part = false; continue; }  // the drawing was cleared or replaced meanwhile
          this.show(input, result.ae, result.vae);
          showGrid('vae-samples', result.samples, result.samples.length);
          showImage('walk-ae', result.ae); showImage('walk-vae', result.vae);
          part = pagePart(dataset, fill, input, result);
        } else {
          const {ae, vae} = await this.models.reconstruct(dataset, input);
          if (cleared !== this.cleared) continue;
          this.show(input, ae, vae);
        }
      } catch (err) {
        // an empty or unusable drawing, or the models failed: the server's answer to the ink says why (and shows what
        // it can); nothing of an earlier drawing stays
        if (done) hideImages(SHOWN);
        continue;
      } finally {
        if (done) done(part);
      }
      this.lastMs = performance.now() - start;
    }
    this.running = false;
  }

  show(input, ae, vae) {
    showImage('model-input', input); showImage('ae-recon', ae); showImage('vae-recon', vae);
    this.last = {'model-input': input, 'ae-recon': ae, 'vae-recon': vae};
    this.frames += 1;
    this.shownAt.push(performance.now());
    if (this.shownAt.length > 500) this.shownAt.shift();
  }

  // The pad was emptied, or another input replaced the drawing: no frame waits, and nothing the page drew stays.
  clear() {
    this.cleared += 1;
    this.enqueue(null);
    this.last = null;
    hideImages(SHOWN);
  }

  idle() { return !this.running && !this.pending; }
}
