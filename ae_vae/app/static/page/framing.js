// The drawing -> model input, in the page: the steps of ae_vae.preprocess.to_model_input for the pad's ink (the alpha
// channel), each data set framed as it was made. The framing's numbers come from Python (the page's config:
// ae_vae.app.page.page_config), and the results match Python's to float precision (tests/test_browser.py checks
// hundreds of drawings); a problem is thrown as an Error with the server's words.

// Python's round(): halves to the even neighbour.
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Binary morphology with the cross (4-neighbour) structure, as scipy.ndimage's default.
function dilate(mask, w, h) {
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      out[i] = mask[i] || (x > 0 && mask[i - 1]) || (x < w - 1 && mask[i + 1]) ||
               (y > 0 && mask[i - w]) || (y < h - 1 && mask[i + w]) ? 1 : 0;
    }
  }
  return out;
}
function erode(mask, w, h) {  // outside the image counts as set (border_value=1)
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      out[i] = mask[i] && (x === 0 || mask[i - 1]) && (x === w - 1 || mask[i + 1]) &&
               (y === 0 || mask[i - w]) && (y === h - 1 || mask[i + w]) ? 1 : 0;
    }
  }
  return out;
}
function fillHoles(mask, w, h) {  // background not 4-connected to the border becomes set
  const outside = new Uint8Array(mask.length), stack = [];
  const seed = (i) => { if (!mask[i] && !outside[i]) { outside[i] = 1; stack.push(i); } };
  for (let x = 0; x < w; x++) { seed(x); seed((h - 1) * w + x); }
  for (let y = 0; y < h; y++) { seed(y * w); seed(y * w + w - 1); }
  while (stack.length) {
    const i = stack.pop(), x = i % w, y = (i - x) / w;
    if (x > 0) seed(i - 1); if (x < w - 1) seed(i + 1); if (y > 0) seed(i - w); if (y < h - 1) seed(i + w);
  }
  return outside.map((o) => 1 - o);
}

// ae_vae.preprocess.fill_closed_outlines: close gaps of ~1.5 % of the drawing's size, fill, shrink back.
function fillClosedOutlines(ink, w, h) {
  let peak = 0;
  for (const v of ink) peak = Math.max(peak, v);
  const mask = ink.map((v) => (v > 0.25 * peak ? 1 : 0));
  let r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x]) { r0 = Math.min(r0, y); r1 = Math.max(r1, y); c0 = Math.min(c0, x); c1 = Math.max(c1, x); }
    }
  }
  if (r1 < 0) return ink;
  const gap = Math.max(1, roundHalfEven(0.015 * Math.max(r1 - r0 + 1, c1 - c0 + 1)));
  const pw = w + 2 * gap, ph = h + 2 * gap;
  let grown = new Uint8Array(pw * ph);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) grown[(y + gap) * pw + x + gap] = mask[y * w + x];
  for (let i = 0; i < gap; i++) grown = dilate(grown, pw, ph);
  let solid = fillHoles(grown, pw, ph);
  for (let i = 0; i < gap; i++) solid = erode(solid, pw, ph);
  const out = Float64Array.from(ink);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (solid[(y + gap) * pw + x + gap] && !mask[y * w + x]) out[y * w + x] = peak;
    }
  }
  return out;
}

// Pillow's resampling of a float image (Image.resize(..., LANCZOS) in mode "F"): separable, horizontal pass
// first, each output pixel a normalised Lanczos-3 window stretched by the downscale factor.
function lanczos(x) {
  const sinc = (t) => (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t));
  return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}
function coefficients(inSize, outSize) {
  const scale = inSize / outSize, filterScale = Math.max(scale, 1), support = 3 * filterScale;
  const out = [];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale, ss = 1 / filterScale;
    const xmin = Math.max(Math.trunc(centre - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(centre + support + 0.5), inSize) - xmin;
    const k = new Float64Array(xmax);
    let total = 0;
    for (let x = 0; x < xmax; x++) { k[x] = lanczos((x + xmin - centre + 0.5) * ss); total += k[x]; }
    if (total !== 0) for (let x = 0; x < xmax; x++) k[x] /= total;
    out.push({xmin, k});
  }
  return out;
}
function resizeLanczos(src, w, h, newW, newH) {
  const horiz = coefficients(w, newW), vert = coefficients(h, newH);
  const first = vert[0].xmin, last = vert[newH - 1].xmin + vert[newH - 1].k.length;
  let temp = src, tw = w, offset = 0;
  if (newW !== w) {
    const rows = last - first;
    offset = first; tw = newW;
    temp = new Float32Array(newW * rows);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < newW; x++) {
        const {xmin, k} = horiz[x];
        let s = 0;
        for (let i = 0; i < k.length; i++) s += src[(y + first) * w + xmin + i] * k[i];
        temp[y * newW + x] = s;
      }
    }
  }
  if (newH === h) return temp;
  const out = new Float32Array(tw * newH);
  for (let y = 0; y < newH; y++) {
    const {xmin, k} = vert[y];
    for (let x = 0; x < tw; x++) {
      let s = 0;
      for (let i = 0; i < k.length; i++) s += temp[(xmin - offset + i) * tw + x] * k[i];
      out[y * tw + x] = s;
    }
  }
  return out;
}

function place(patch, h, w, framing) {
  const size = framing.frame, frame = new Float32Array(size * size);
  let top, left;
  if (framing.by_mass) {
    let total = 0, sy = 0, sx = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) { const v = patch[y * w + x]; total += v; sy += y * v; sx += x * v; }
    }
    const [cy, cx] = total > 0 ? [sy / total, sx / total] : [h / 2, w / 2];
    top = Math.min(Math.max(roundHalfEven(framing.centre - cy), 0), size - h);
    left = Math.min(Math.max(roundHalfEven(framing.centre - cx), 0), size - w);
  } else {
    top = Math.floor((size - h + 1) / 2); left = Math.floor((size - w + 1) / 2);
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) frame[(top + y) * size + left + x] = Math.min(Math.max(patch[y * w + x], 0), 1);
  }
  return frame;
}

// The model input (Float32Array of framing.frame², white ink on black in [0, 1]) of the pad's reduced ink: {ink, w, h},
// the bytes of its payload (pad.js `reduce`, the twin of ae_vae.app.pad.encode_payload), framed by `framing` (one
// data set's entry of the config's `framings`).
export function modelInput(reduced, framing, fillOutlines = false) {
  if (!reduced) throw new Error('The pad is empty.');
  const margin = framing.margin, frame = framing;
  const w = reduced.w + 2 * margin, h = reduced.h + 2 * margin;
  let ink = new Float64Array(w * h), peak = 0, low = Infinity;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = y >= margin && y < h - margin && x >= margin && x < w - margin;
      const v = inside ? reduced.ink[(y - margin) * reduced.w + x - margin] / 255 : 0;
      ink[y * w + x] = v; peak = Math.max(peak, v); low = Math.min(low, v);
    }
  }
  if (peak - low <= 0.1 || peak < 0.1) {
    throw new Error('No ink found: the image is blank (or a single flat colour). Draw or upload a digit.');
  }
  for (let i = 0; i < ink.length; i++) ink[i] /= peak;
  if (fillOutlines) ink = fillClosedOutlines(ink, w, h);
  let r0 = h, r1 = -1, c0 = w, c1 = -1, mean = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = ink[y * w + x];
      mean += v;
      if (v > frame.crop_threshold) { r0 = Math.min(r0, y); r1 = Math.max(r1, y); c0 = Math.min(c0, x); c1 = Math.max(c1, x); }
    }
  }
  const ch = r1 - r0 + 1, cw = c1 - c0 + 1;
  if (ch >= 0.98 * h && cw >= 0.98 * w && mean / (w * h) > frame.solid_fill) {
    throw new Error('The whole image is ink: it looks like a solid or inverted picture, not a drawing.');
  }
  const crop = new Float32Array(ch * cw);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) crop[y * cw + x] = ink[(y + r0) * w + x + c0];
  const scale = frame.box / Math.max(ch, cw);
  const newH = Math.max(1, roundHalfEven(ch * scale)), newW = Math.max(1, roundHalfEven(cw * scale));
  const resized = resizeLanczos(crop, cw, ch, newW, newH);
  let top = 0;
  for (let i = 0; i < resized.length; i++) { resized[i] = Math.max(resized[i], 0); top = Math.max(top, resized[i]); }
  if (frame.full_ink) {
    const m = Math.max(top, 1e-6);
    for (let i = 0; i < resized.length; i++) resized[i] = Math.fround(resized[i] / m);
  }
  return place(resized, newH, newW, framing);
}
