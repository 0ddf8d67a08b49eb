// Drawing on the page's own canvases (the live maps, the β tab): sized to their box at the device's pixel ratio, and
// the drawing's star.

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
