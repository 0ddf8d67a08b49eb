// The only module that reads or writes Gradio's markup: the components the page draws into (a <canvas> laid over an
// image component's own <img>, shown until the server sends that component a new image), the values of Gradio's
// inputs the page reads when it needs them (sliders, radios, the scrubber's codes), and the inputs that replace
// the drawing. Element ids come from the page's config (ae_vae.app.page.page_config), never from here.

const overlays = new WeakMap();  // component element -> {canvas, src}
const watched = new WeakSet();  // components whose server images are watched

function overlayOf(element) {
  let overlay = overlays.get(element);
  if (overlay && overlay.canvas.isConnected) return overlay;
  const canvas = document.createElement('canvas');
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

// Paint grey levels (`width` x `height` values in [0, 0xff]) onto a canvas of that size: every image the page draws.
export function paintGrey(canvas, bytes, width, height) {
  const ctx = canvas.getContext('2d');
  const data = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    data.data[4 * i] = data.data[4 * i + 1] = data.data[4 * i + 2] = bytes[i];
    data.data[4 * i + 3] = 0xff;
  }
  ctx.putImageData(data, 0, 0);
}

// Show a greyscale image (`width` x `height` values in [0, 0xff]) over the image component with id `elemId`; `wide`
// lets it take the component's whole width (a grid), else it is a square centred in it.
export function showPixels(elemId, bytes, width, height, wide = false) {
  const element = document.getElementById(elemId);
  if (!element) return;
  const overlay = overlayOf(element);
  if (overlay.canvas.width !== width || overlay.canvas.height !== height) {
    overlay.canvas.width = width; overlay.canvas.height = height;
    if (wide) {  // as wide as the component lets it be, its proportions kept, as the server's image is
      Object.assign(overlay.canvas.style, {left: '0', transform: 'none', width: '100%', aspectRatio: 'auto',
                                           objectFit: 'contain', background: 'var(--block-background-fill, #fff)'});
    }
  }
  paintGrey(overlay.canvas, bytes, width, height);
  const img = element.querySelector('img');
  overlay.src = img ? img.getAttribute('src') : null;  // the server's image under it, when this was drawn
  overlay.canvas.hidden = false;
  element.dataset.inPage = 'true';
}

// Hide the images the page drew in the components with these ids.
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

// The number a slider component shows, or `fallback` when it is not on the page.
export function sliderValue(elemId, fallback = 0) {
  const input = document.querySelector(`#${elemId} input[type="range"]`);
  return input ? Number(input.value) : fallback;
}

// The value of a radio component's checked choice, or `fallback`.
export function radioValue(elemId, fallback = null) {
  const checked = document.querySelector(`#${elemId} input[type="radio"]:checked`);
  return checked ? checked.value : fallback;
}

// The JSON the server wrote into an HTML component's first element's `data-codes`, or null.
export function dataCodes(elemId) {
  const holder = document.querySelector(`#${elemId} [data-codes]`);
  return holder ? JSON.parse(holder.dataset.codes) : null;
}

// Call `listener(event)` for every `type` event (input, pointermove, ...) inside the component `elemId`, whenever it
// is mounted (tabs mount and remount their components: the listener is on the document).
export function onWithin(type, elemIds, listener) {
  const ids = [].concat(elemIds);
  document.addEventListener(type, (event) => {
    const target = event.target;
    if (!target || !target.closest) return;
    for (const id of ids) {
      const element = target.closest(`#${id}`);
      if (element) { listener(event, element, id); return; }
    }
  }, true);
}

// While the pointer moves over the component `elemId`, `over(event, element)`; when it moves anywhere else,
// `away(element)` (the element, or null when it is not mounted).
export function onPointerOver(elemId, over, away) {
  document.addEventListener('pointermove', (event) => {
    const element = event.target && event.target.closest ? event.target.closest(`#${elemId}`) : null;
    if (element) over(event, element);
    else away(document.getElementById(elemId));
  }, {passive: true});
}

// The image inside a component (the maps' picture), or null.
export function imageIn(element) { return element ? element.querySelector('img') : null; }

// A canvas laid over the image inside `element` (created once unless `create` is false; the maps' crosshair), sized
// by the caller; null when there is none and none is created.
export function overlayOnImage(element, className, create = true) {
  let canvas = element.querySelector(`canvas.${className}`);
  if (!canvas && create && imageIn(element)) {
    canvas = document.createElement('canvas');
    canvas.className = className;
    Object.assign(canvas.style, {position: 'absolute', pointerEvents: 'none', zIndex: '2'});
    const host = element.querySelector('img').parentElement;
    if (getComputedStyle(host).position === 'static') host.style.position = 'relative';
    host.appendChild(canvas);
  }
  return canvas;
}

// `replaced()` when an upload or a click on an example (the components `uploadId`, `examplesId`) replaces the drawing.
export function onDrawingReplaced(uploadId, examplesId, replaced) {
  const handler = (e) => {
    const within = (selector) => e.target && e.target.closest && e.target.closest(selector);
    if (e.type === 'click' ? within(`#${examplesId} button.thumbnail-item`) : within(`#${uploadId}`)) replaced();
  };
  ['change', 'drop', 'click'].forEach((type) => document.addEventListener(type, handler, true));
}

// A status line of the page's own over the Gradio markdown `elemId` (the server's line hidden under it) until the
// server writes another line there; `null` takes it away at once.
const statuses = new WeakMap();  // component element -> {line, serverText}

function serverText(element, line) {
  return [...element.childNodes].filter((n) => n !== line).map((n) => n.textContent).join('').trim();
}

export function showStatus(elemId, text) {
  const element = document.getElementById(elemId);
  if (!element) return;
  let status = statuses.get(element);
  if (text === null) {
    if (status) { status.line.remove(); element.classList.remove('page-status'); statuses.delete(element); }
    return;
  }
  if (!status || !status.line.isConnected) {
    const line = document.createElement('p');
    line.className = 'in-page-status';
    status = {line, serverText: ''};
    statuses.set(element, status);
    element.appendChild(line);
    new MutationObserver((_records, observer) => {
      if (statuses.get(element) !== status) { observer.disconnect(); return; }
      if (serverText(element, status.line) !== status.serverText) { showStatus(elemId, null); observer.disconnect(); }
    }).observe(element, {subtree: true, childList: true, characterData: true});
  }
  status.serverText = serverText(element, status.line);
  status.line.textContent = text;
  element.classList.add('page-status');
}
