// The Interpolate tab's scrubber in the page: while t is dragged, both models decode the point at t of the path
// between the two images' codes (the server wrote them into #interp-codes after Interpolate), as
// ae_vae.latent.paths.lerp / slerp do.

import {showImage} from './canvas.js';

const OUTPUT = {ae: 'scrub-ae', vae: 'scrub-vae'};

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
  constructor(models) {
    this.models = models;
    this.pending = false; this.running = false; this.moves = 0;
    document.addEventListener('input', (e) => {
      if (e.target && e.target.closest && e.target.closest('#interp-t')) { this.pending = true; this.drain(); }
    });
  }

  static codes() {
    const holder = document.querySelector('#interp-codes .interp-codes');
    return holder ? JSON.parse(holder.dataset.codes) : null;
  }

  static state() {
    const input = document.querySelector('#interp-t input[type="range"]');
    const path = document.querySelector('#interp-path input[type="radio"]:checked');
    return {t: input ? Number(input.value) : 0.5, path: path ? path.value : 'linear'};
  }

  async drain() {
    if (this.running) return;
    this.running = true;
    while (this.pending) {
      this.pending = false;
      const codes = PageScrub.codes();
      if (!codes || !this.models.has(codes.dataset)) continue;
      const {t, path} = PageScrub.state(), along = path === 'spherical' ? slerp : lerp;
      try {
        for (const kind of ['ae', 'vae']) {
          const [a, b] = codes[kind];
          const image = await this.models.decode(codes.dataset, kind, along(a, b, t));
          showImage(OUTPUT[kind], image);
        }
        this.moves += 1;
      } catch (err) {
        continue;  // the server's answer to the move still comes
      }
    }
    this.running = false;
  }
}
