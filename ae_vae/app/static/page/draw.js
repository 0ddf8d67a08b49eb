// The Draw tab in the page: each frame of the pad becomes the model input and both reconstructions here, drawn
// into the tab's own image components; the server is asked only after the pen lifts (pad.js sends the payload).

import {FRAME, modelInput} from './framing.js';
import {PageModels} from './models.js';
import {showImage} from './canvas.js';

export class PageDraw {
  constructor(config, root) {
    const url = (path) => new URL(path, root).href;
    const graphs = {};
    for (const [dataset, pair] of Object.entries(config.graphs)) {
      graphs[dataset] = Object.fromEntries(Object.entries(pair).map(([kind, g]) => [kind, {
        encoder: url(g.encoder), decoder: url(g.decoder), latent_dim: g.latent_dim}]));
    }
    this.models = new PageModels(url(config.vendor), graphs);
    this.missing = config.missing || {};
    this.frames = 0;        // in-page frames shown (for tests and benchmarks)
    this.lastMs = null;     // the last frame's time, framing to drawn
    this.shownAt = [];      // performance.now() of the latest frames shown
    this.readyAt = null;    // when the models had given their first answer
    this.last = null;       // the latest frame shown: {elemId: 784 floats in [0, 1]}
    this.running = false;
    this.pending = null;
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
  why(dataset) { return this.missing[dataset] || ''; }

  // A frame of the pad: its reduced ink (pad.js `reduce`). Only the latest waiting frame is run.
  frame(reduced, dataset, fill) {
    this.pending = {reduced, dataset, fill};
    if (!this.running) this.drain();
  }

  async drain() {
    this.running = true;
    while (this.pending) {
      const {reduced, dataset, fill} = this.pending;
      this.pending = null;
      const start = performance.now();
      let input;
      try {
        input = modelInput(reduced, dataset, fill);
      } catch (err) {
        continue;  // an empty or unusable drawing: the server's answer after pointer-up says why
      }
      const {ae, vae} = await this.models.reconstruct(dataset, input);
      showImage('model-input', input); showImage('ae-recon', ae); showImage('vae-recon', vae);
      this.last = {'model-input': input, 'ae-recon': ae, 'vae-recon': vae};
      this.frames += 1;
      this.lastMs = performance.now() - start;
      this.shownAt.push(performance.now());
      if (this.shownAt.length > 500) this.shownAt.shift();
    }
    this.running = false;
  }

  idle() { return !this.running && !this.pending; }
}
