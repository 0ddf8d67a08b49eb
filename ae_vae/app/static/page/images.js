// Images computed in the page, shown as the server shows them: values in [0, 1] as bytes (ae_vae.figures.to_uint8),
// several tiled as ae_vae.figures.image_grid tiles them (the layout's numbers from the page's config: `grid`).

import {showPixels} from './dom.js';

export function toBytes(pixels) {
  return Uint8Array.from(pixels, (v) => Math.round(Math.min(Math.max(v, 0), 1) * 0xff));
}

// Show one frame x frame image in the component with id `elemId`.
export function showImage(elemId, pixels, frame) { showPixels(elemId, toBytes(pixels), frame, frame); }

// Tile frame x frame images (each frame² grey bytes) in `ncol` columns as ae_vae.figures.image_grid does:
// {bytes, width, height}.
export function gridBytes(tiles, ncol, frame, grid) {
  const cols = Math.min(ncol, tiles.length), rows = Math.ceil(tiles.length / cols), pad = grid.pad;
  const width = cols * (frame + pad) + pad, height = rows * (frame + pad) + pad;
  const bytes = new Uint8Array(width * height).fill(grid.grey);
  tiles.forEach((tile, n) => {
    const top = pad + Math.floor(n / cols) * (frame + pad), left = pad + (n % cols) * (frame + pad);
    for (let y = 0; y < frame; y++) bytes.set(tile.subarray(y * frame, (y + 1) * frame), (top + y) * width + left);
  });
  return {bytes, width, height};
}

// Show frame x frame images in a grid of `ncol` columns (one image: no border) in the component with id `elemId`.
export function showGrid(elemId, images, ncol, frame, grid) {
  if (images.length === 1) { showImage(elemId, images[0], frame); return; }
  const {bytes, width, height} = gridBytes(images.map(toBytes), ncol, frame, grid);
  showPixels(elemId, bytes, width, height, true);
}
