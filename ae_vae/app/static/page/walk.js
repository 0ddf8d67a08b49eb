// The walk sliders in the page: while a slider moves, the drawing's AE code and VAE posterior mean are moved
// along each model's own principal directions and decoded here (the server's answer to the move, when it
// comes, shows the same images).

import {FRAME} from './framing.js';
import {showImage} from './canvas.js';

const SLIDERS = ['walk-1', 'walk-2', 'walk-3'];
const OUTPUT = {ae: 'walk-ae', vae: 'walk-vae'};

// The Draw tab's current model input (784 floats in [0, 1]) as shown in #model-input: the page's own canvas when
// it is in front, else the server's image; null when there is none yet.
function currentInput() {
  const element = document.getElementById('model-input');
  if (!element) return null;
  const own = element.querySelector('canvas.in-page-image');
  const img = element.querySelector('img');
  let source = null;
  if (own && !own.hidden) source = own;
  else if (img && img.complete && img.naturalWidth === FRAME) source = img;
  if (!source) return null;
  const canvas = document.createElement('canvas');
  canvas.width = FRAME; canvas.height = FRAME;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(source, 0, 0, FRAME, FRAME);
  const data = ctx.getImageData(0, 0, FRAME, FRAME).data;
  return Float32Array.from({length: FRAME * FRAME}, (_, i) => data[4 * i] / 255);
}

export class PageWalk {
  constructor(models, maps, currentDataset) {
    this.models = models; this.maps = maps; this.currentDataset = currentDataset;
    this.pending = false; this.running = false; this.moves = 0;
    this.error = null;  // the last move the page could not decode (the server's answer to it still comes)
    document.addEventListener('input', (e) => {
      if (e.target && e.target.closest && SLIDERS.some((id) => e.target.closest('#' + id))) this.move();
    });
  }

  sigmas() {
    return SLIDERS.map((id) => {
      const input = document.querySelector(`#${id} input[type="range"]`);
      return input ? Number(input.value) : 0;
    });
  }

  move() {
    this.pending = true;
    if (!this.running) this.drain();
  }

  async drain() {
    this.running = true;
    while (this.pending) {
      this.pending = false;
      const input = currentInput(), dataset = this.currentDataset();
      if (!input) continue;
      try {
        const [{maps}, codes] = await Promise.all([this.maps.load(dataset), this.models.encode(dataset, input)]);
        const sigmas = this.sigmas();
        for (const kind of ['ae', 'vae']) {
          const image = await this.models.decode(dataset, kind, maps[kind].walk(codes[kind], sigmas));
          showImage(OUTPUT[kind], image);
        }
        this.moves += 1;
      } catch (err) {
        this.error = String(err && err.message ? err.message : err);
        continue;  // the server's answer to the move still comes
      }
    }
    this.running = false;
  }
}
