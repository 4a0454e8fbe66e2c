#!/usr/bin/env node
// Draws the tray icons (a padlock: locked grey, unlocked green, pending amber with a dot)
// at 16 px and 32 px (@2x) and writes them as PNG. Run: node resources/make-tray-icons.mjs
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const here = path.dirname(new URL(import.meta.url).pathname);
const SS = 8; // supersampling per axis

function png(size, rgba) {
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Returns 'body' | 'shackle' | 'hole' | 'dot' | null for a point in unit coordinates. */
function shape(x, y, kind) {
  const inRoundRect = (x0, y0, x1, y1, r) => {
    if (x < x0 || x > x1 || y < y0 || y > y1) return false;
    const cx = Math.min(Math.max(x, x0 + r), x1 - r);
    const cy = Math.min(Math.max(y, y0 + r), y1 - r);
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  };
  if (kind === 'pending' && (x - 0.8) ** 2 + (y - 0.22) ** 2 <= 0.17 ** 2) return 'dot';
  if (inRoundRect(0.16, 0.44, 0.84, 0.94, 0.1)) {
    const hole = (x - 0.5) ** 2 + (y - 0.64) ** 2 <= 0.075 ** 2 || (Math.abs(x - 0.5) <= 0.035 && y >= 0.64 && y <= 0.8);
    return hole ? 'hole' : 'body';
  }
  // Shackle: an arch of thickness t around (0.5, top + R); the unlocked one is lifted, its left leg free.
  const lift = kind === 'unlocked' ? 0.14 : 0;
  const cx = 0.5;
  const cy = 0.3 - lift;
  const R = 0.22;
  const t = 0.085;
  const d = Math.hypot(x - cx, y - cy);
  if (y <= cy && d <= R && d >= R - t) return 'shackle';
  const legBottom = 0.46;
  const leftLegBottom = kind === 'unlocked' ? cy + 0.08 : legBottom;
  if (y > cy && y <= leftLegBottom && x >= cx - R && x <= cx - R + t) return 'shackle';
  if (y > cy && y <= legBottom && x >= cx + R - t && x <= cx + R) return 'shackle';
  return null;
}

const COLORS = {
  locked: [0x71, 0x71, 0x7a],
  unlocked: [0x16, 0xa3, 0x4a],
  pending: [0x71, 0x71, 0x7a],
};
const DOT = [0xf5, 0x9e, 0x0b];

function draw(size, kind) {
  const out = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0,
        g = 0,
        b = 0,
        a = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const s = shape((px + (sx + 0.5) / SS) / size, (py + (sy + 0.5) / SS) / size, kind);
          if (s === 'body' || s === 'shackle' || s === 'dot') {
            const c = s === 'dot' ? DOT : COLORS[kind];
            r += c[0];
            g += c[1];
            b += c[2];
            a += 1;
          }
        }
      }
      const i = (py * size + px) * 4;
      if (a > 0) {
        out[i] = Math.round(r / a);
        out[i + 1] = Math.round(g / a);
        out[i + 2] = Math.round(b / a);
        out[i + 3] = Math.round((255 * a) / (SS * SS));
      }
    }
  }
  return png(size, out);
}

for (const kind of ['locked', 'unlocked', 'pending']) {
  writeFileSync(path.join(here, `tray-${kind}.png`), draw(16, kind));
  writeFileSync(path.join(here, `tray-${kind}@2x.png`), draw(32, kind));
}
process.stdout.write(`wrote tray icons to ${here}\n`);
