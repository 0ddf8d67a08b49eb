// The walk sliders in the page: while a slider moves, the drawing's AE code and VAE posterior mean are moved along
// each model's own principal directions and decoded here (the server's answer to the move, when it comes, shows the
// same images). The drawing is the page's own (PageDraw.currentInput): an upload's walk is the server's.

import {onWithin, sliderValue} from './dom.js';
import {showImage} from './images.js';
import {latestWins} from './latest.js';

export class PageWalk {
  // draw: the PageDraw; maps: the PageMaps (each model's walk directions); state: {dataset(), fill()}.
  constructor(config, draw, maps, state) {
    this.draw = draw; this.maps = maps; this.state = state;
    this.sliders = config.ids.walk_sliders;
    this.output = {ae: config.ids.walk_ae, vae: config.ids.walk_vae};
    this.frameSize = config.frame;
    this.moves = 0;
    this.queue = latestWins(() => this.run(), {name: 'the walk'});
    onWithin('input', this.sliders, () => this.queue.request({}));
  }

  async run() {
    const dataset = this.state.dataset(), input = this.draw.currentInput(dataset, this.state.fill());
    if (!input) return;
    const [{maps}, codes] = await Promise.all([this.maps.load(dataset), this.draw.models.encode(dataset, input)]);
    const sigmas = this.sliders.map((id) => sliderValue(id));
    for (const kind of ['ae', 'vae']) {
      const image = await this.draw.models.decode(dataset, kind, maps[kind].walk(codes[kind], sigmas));
      showImage(this.output[kind], image, this.frameSize);
    }
    this.moves += 1;
  }
}
