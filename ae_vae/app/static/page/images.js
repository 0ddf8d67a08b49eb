// Images computed in the page, shown as the server shows them: values in [0, 1] as bytes (ae_vae.figures.to_uint8),
// several tiled as ae_vae.figures.image_grid tiles them (the layout's numbers from the page's config: `grid`).

import {showPixels} from './dom.js';

export function toBytes(pixels) {
  return Uint8Array.from(pixels, (v) => Math.round(Math.min(Math.max(v, 0), 1) * 0xff));
}

// Show one frame x frame image in the component with id `elemId`.
export function showImage(elemId, pixels, frame) { showPixels(elemId, toBytes(pixels), frame, frame); }

// Show frame x frame images in a grid of `ncol` columns (one image: no border) in the component with id `elemId`.
export function showGrid(elemId, images, ncol, frame, grid) {
  if (images.length === 1) { showImage(elemId, images[0], frame); return; }
  const cols = Math.min(ncol, images.length), rows = Math.ceil(images.length / cols), pad = grid.pad;
  const width = cols * (frame + pad) + pad, height = rows * (frame + pad) + pad;
  const bytes = new Uint8Array(width * height).fill(grid.grey);
  images.forEach((pixels, n) => {
    const top = pad + Math.floor(n / cols) * (frame + pad), left = pad + (n % cols) * (frame + pad);
    const tile = toBytes(pixels);
    for (let y = 0; y < frame; y++) bytes.set(tile.subarray(y * frame, (y + 1) * frame), (top + y) * width + left);
  });
  showPixels(elemId, bytes, width, height, true);
}
