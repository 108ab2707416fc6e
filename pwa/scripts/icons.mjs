// Writes the PWA icons (public/icons/*.png) without any image library: each pixel is
// computed from a few shapes, 4×4 supersampled, and written as an RGBA PNG with zlib.
// Run with `npm run icons`; the PNGs are committed, so builds do not need this.
import { writeFileSync, mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BG = [15, 23, 42];
const RING = [56, 189, 248];
const DOT = [250, 204, 21];

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  const S = 4;
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < S; sy++)
        for (let sx = 0; sx < S; sx++) {
          const c = pixel((x + (sx + 0.5) / S) / size, (y + (sy + 0.5) / S) / size);
          if (c) { r += c[0] * c[3]; g += c[1] * c[3]; b += c[2] * c[3]; a += c[3]; }
        }
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = a ? Math.round(r / a) : 0;
      raw[o + 1] = a ? Math.round(g / a) : 0;
      raw[o + 2] = a ? Math.round(b / a) : 0;
      raw[o + 3] = Math.round((a / (S * S)) * 255);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// The mark: a ring (the dome's eye) with a dot at its centre and a sweep line, scaled by `k`
// around the centre so the maskable variant keeps it inside the 80 % safe zone.
function mark(u, v, k) {
  const x = (u - 0.5) / k, y = (v - 0.5) / k;
  const d = Math.hypot(x, y);
  if (d < 0.09) return [...DOT, 1];
  if (d > 0.26 && d < 0.33) return [...RING, 1];
  if (d > 0.4 && d < 0.43 && y < 0.05) return [...RING, 0.6];
  return null;
}
function roundedSquare(u, v, radius) {
  const x = Math.abs(u - 0.5), y = Math.abs(v - 0.5), h = 0.5 - radius;
  if (x <= h || y <= h) return true;
  return Math.hypot(x - h, y - h) <= radius;
}

mkdirSync(new URL('../public/icons/', import.meta.url), { recursive: true });
const any = (size) =>
  png(size, (u, v) => (roundedSquare(u, v, 0.2) ? mark(u, v, 1) ?? [...BG, 1] : null));
const maskable = (size) => png(size, (u, v) => mark(u, v, 0.8) ?? [...BG, 1]);
writeFileSync(new URL('../public/icons/icon-192.png', import.meta.url), any(192));
writeFileSync(new URL('../public/icons/icon-512.png', import.meta.url), any(512));
writeFileSync(new URL('../public/icons/icon-maskable-512.png', import.meta.url), maskable(512));
console.log('icons written');
