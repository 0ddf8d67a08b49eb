// Draws a 28x28 image computed in the page into one of the app's image components (#model-input, #ae-recon,
// ...): a <canvas> laid over the component's own image, shown until the server sends that component a new one.

const overlays = new WeakMap();  // component element -> {canvas, src}
const watched = new WeakSet();  // components whose server images are watched

function overlayOf(element) {
  let overlay = overlays.get(element);
  if (overlay && overlay.canvas.isConnected) return overlay;
  const canvas = document.createElement('canvas');
  canvas.width = 28; canvas.height = 28;
  canvas.className = 'in-page-image';
  Object.assign(canvas.style, {position: 'absolute', top: '0', bottom: '0', left: '50%', transform: 'translateX(-50%)',
                               height: '100%', aspectRatio: '1 / 1', imageRendering: 'pixelated', background: '#000',
                               zIndex: '1'});
  canvas.setAttribute('aria-label', 'computed in this page');
  const host = element.querySelector('.image-container, .image-frame, [data-testid="image"]') || element;
  if (getComputedStyle(host).position === 'static') host.style.position = 'relative';
  host.appendChild(canvas);
  overlay = {canvas, src: null};
  overlays.set(element, overlay);
  if (!watched.has(element)) {  // the server's next image for this component replaces the page's
    watched.add(element);
    new MutationObserver(() => yieldToServer(element)).observe(element, {subtree: true, childList: true,
                                                                         attributes: true, attributeFilter: ['src']});
  }
  return overlay;
}

const GRID_PAD = 2, GRID_GREY = 64;  // ae_vae.figures.image_grid: grey pixels between and around the tiles

// Show `pixels` (784 floats in [0, 1], white on black) in the component with id `elemId`.
export function showImage(elemId, pixels) { showGrid(elemId, [pixels], 1); }

// Show 28x28 images in a grid of `ncol` columns, laid out as ae_vae.figures.image_grid lays them out (one image: no
// border), in the component with id `elemId`.
export function showGrid(elemId, images, ncol) {
  const element = document.getElementById(elemId);
  if (!element) return;
  const overlay = overlayOf(element);
  const pad = images.length > 1 ? GRID_PAD : 0, cols = Math.min(ncol, images.length);
  const rows = Math.ceil(images.length / cols);
  const width = cols * (28 + pad) + pad, height = rows * (28 + pad) + pad;
  if (overlay.canvas.width !== width || overlay.canvas.height !== height) {
    overlay.canvas.width = width; overlay.canvas.height = height;
    if (images.length > 1) {  // as wide as the component lets it be, its proportions kept, as the server's image is
      Object.assign(overlay.canvas.style, {left: '0', transform: 'none', width: '100%', aspectRatio: 'auto',
                                           objectFit: 'contain', background: 'var(--block-background-fill, #fff)'});
    }
  }
  const ctx = overlay.canvas.getContext('2d');
  const data = ctx.createImageData(width, height);
  data.data.fill(255);
  for (let i = 0; i < width * height; i++) data.data[4 * i] = data.data[4 * i + 1] = data.data[4 * i + 2] = GRID_GREY;
  images.forEach((pixels, n) => {
    const top = pad + Math.floor(n / cols) * (28 + pad), left = pad + (n % cols) * (28 + pad);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = Math.round(Math.min(Math.max(pixels[y * 28 + x], 0), 1) * 255), at = 4 * ((top + y) * width + left + x);
        data.data[at] = data.data[at + 1] = data.data[at + 2] = v;
      }
    }
  });
  ctx.putImageData(data, 0, 0);
  const img = element.querySelector('img');
  overlay.src = img ? img.getAttribute('src') : null;  // the server's image under it, when this was drawn
  overlay.canvas.hidden = false;
  element.dataset.inPage = 'true';
}

// Hide the images the page drew in the components with these ids (a cleared pad: the server's answer empties
// components that may already be empty, which changes nothing the page could notice).
export function hideImages(elemIds) {
  for (const id of elemIds) {
    const element = document.getElementById(id), overlay = element && overlays.get(element);
    if (!overlay) continue;
    overlay.canvas.hidden = true;
    delete element.dataset.inPage;
  }
}

// Hide the page's image once the server has sent the component another one.
function yieldToServer(element) {
  const overlay = overlays.get(element);
  if (!overlay || overlay.canvas.hidden) return;
  const img = element.querySelector('img');
  const src = img ? img.getAttribute('src') : null;
  if (src !== overlay.src) { overlay.canvas.hidden = true; delete element.dataset.inPage; }
}
