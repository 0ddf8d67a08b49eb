// Drawing on the page's own canvases (the live maps, the β tab's map): sized to their box at the device's pixel
// ratio, the points coloured by class, the pointer's crosshair, a pinned point's ring and the drawing's star.

// `canvas` sized to `box`'s CSS size at the device's pixel ratio and cleared: {ctx, w, h}, drawn in CSS pixels.
export function sizedCanvas(canvas, box = canvas) {
  const r = box.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, r.width, r.height);
  return {ctx, w: r.width, h: r.height};
}

// A five-pointed star's path centred at (cx, cy).
export function fivePointStar(ctx, cx, cy, radius) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const r = i % 2 ? radius * 0.45 : radius, a = -Math.PI / 2 + i * Math.PI / 5;
    ctx[i ? 'lineTo' : 'moveTo'](cx + r * Math.cos(a), cy + r * Math.sin(a));
  }
  ctx.closePath();
}

// `n` points, (coords[2i], coords[2i + 1]) in data coordinates placed by `toPixel`, one path per class.
export function classPoints(ctx, coords, labels, n, colours, toPixel, radius) {
  ctx.globalAlpha = 0.55;
  colours.forEach((colour, label) => {
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      if (labels[i] !== label) continue;
      const [px, py] = toPixel(coords[2 * i], coords[2 * i + 1]);
      ctx.moveTo(px + radius, py);
      ctx.arc(px, py, radius, 0, 2 * Math.PI);
    }
    ctx.fillStyle = colour;
    ctx.fill();
  });
  ctx.globalAlpha = 1;
}

// The pointer's crosshair through (px, py) across a w x h area.
export function crosshair(ctx, px, py, w, h) {
  for (const [colour, width] of [['rgba(255, 255, 255, 0.85)', 3], ['rgba(0, 0, 0, 0.7)', 1]]) {
    ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
    ctx.moveTo(0, py); ctx.lineTo(w, py); ctx.moveTo(px, 0); ctx.lineTo(px, h); ctx.stroke();
  }
}

// A pinned point's ring at (px, py).
export function pinRing(ctx, px, py) {
  ctx.strokeStyle = '#d62728'; ctx.lineWidth = 2.5;
  ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
}
