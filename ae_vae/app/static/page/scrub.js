// The Interpolate tab's scrubber in the page: while t is dragged, both models decode the point at t of the path
// between the two images' codes (the server wrote them into the codes component after Interpolate), as
// ae_vae.latent.paths.lerp / slerp do.

import {dataCodes, onWithin, radioValue, sliderValue} from './dom.js';
import {showImage} from './images.js';
import {latestWins} from './latest.js';

export function lerp(a, b, t) { return Float32Array.from(a, (v, i) => (1 - t) * v + t * b[i]); }

export function slerp(a, b, t) {
  const norm = (v) => Math.max(Math.hypot(...v), 1e-8);
  const na = norm(a), nb = norm(b);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] / na) * (b[i] / nb);
  const omega = Math.acos(Math.min(Math.max(dot, -1 + 1e-7), 1 - 1e-7));
  if (Math.abs(omega) < 1e-4 || Math.abs(Math.PI - omega) < 1e-4) return lerp(a, b, t);
  const s = Math.sin(omega), wa = Math.sin((1 - t) * omega) / s, wb = Math.sin(t * omega) / s;
  return Float32Array.from(a, (v, i) => wa * v + wb * b[i]);
}

export class PageScrub {
  constructor(config, models) {
    this.models = models;
    this.ids = config.ids;
    this.frameSize = config.frame;
    this.moves = 0;
    this.queue = latestWins(() => this.run(), {name: 'the scrubber'});
    onWithin('input', this.ids.interp_t, () => this.queue.request({}));
  }

  async run() {
    const codes = dataCodes(this.ids.interp_codes);
    if (!codes || !this.models.has(codes.dataset)) return;
    const t = sliderValue(this.ids.interp_t, 0.5), along = radioValue(this.ids.interp_path) === 'spherical' ? slerp : lerp;
    const output = {ae: this.ids.scrub_ae, vae: this.ids.scrub_vae};
    for (const kind of ['ae', 'vae']) {
      const [a, b] = codes[kind];
      showImage(output[kind], await this.models.decode(codes.dataset, kind, along(a, b, t)), this.frameSize);
    }
    this.moves += 1;
  }
}
