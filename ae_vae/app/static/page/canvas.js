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

// Show `pixels` (784 floats in [0, 1], white on black) in the component with id `elemId`.
export function showImage(elemId, pixels) {
  const element = document.getElementById(elemId);
  if (!element) return;
  const overlay = overlayOf(element);
  const ctx = overlay.canvas.getContext('2d');
  const data = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(Math.min(Math.max(pixels[i], 0), 1) * 255);
    data.data[4 * i] = data.data[4 * i + 1] = data.data[4 * i + 2] = v; data.data[4 * i + 3] = 255;
  }
  ctx.putImageData(data, 0, 0);
  const img = element.querySelector('img');
  overlay.src = img ? img.getAttribute('src') : null;  // the server's image under it, when this was drawn
  overlay.canvas.hidden = false;
  element.dataset.inPage = 'true';
}

// Hide the page's image once the server has sent the component another one.
function yieldToServer(element) {
  const overlay = overlays.get(element);
  if (!overlay || overlay.canvas.hidden) return;
  const img = element.querySelector('img');
  const src = img ? img.getAttribute('src') : null;
  if (src !== overlay.src) { overlay.canvas.hidden = true; delete element.dataset.inPage; }
}
