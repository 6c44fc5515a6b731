#!/usr/bin/env node
// A tiny static file server for www/dist on 127.0.0.1 (no dependencies). Used by
// scripts/serve-www.sh, the end-to-end tests and the browser benchmark.
//   node scripts/www-server.mjs [--port N] [--dir www/dist]
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.wasm', '.svg']);

/** The body in the best encoding the client accepts (brotli, then gzip), compressed once per file version. */
const encoded = new Map();
function encode(file, body, accept, mtime) {
  const enc = /\bbr\b/.test(accept) ? 'br' : /\bgzip\b/.test(accept) ? 'gzip' : null;
  if (!enc || !COMPRESSIBLE.has(extname(file)) || body.length < 1024) return { body, enc: null };
  const key = `${enc}:${file}:${mtime}`;
  let out = encoded.get(key);
  if (!out) {
    out = enc === 'br'
      ? brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } })
      : gzipSync(body, { level: 9 });
    encoded.set(key, out);
  }
  return { body: out, enc };
}

/**
 * Serves `dir` on 127.0.0.1:`port` (0: any free port). Resolves to { server, url }. Compressed (brotli or gzip)
 * unless `compress: false`; `html(text)` may rewrite pages (the benchmark's "before" drops the preload hint).
 */
export function serve(dir, port = 0, { compress = true, html } = {}) {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      let file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end();
        return;
      }
      let info = await stat(file).catch(() => null);
      if (info?.isDirectory()) {
        file = join(file, 'index.html');
        info = await stat(file).catch(() => null);
      }
      let body = await readFile(file);
      if (html && extname(file) === '.html') body = Buffer.from(html(body.toString('utf8')));
      const mtime = html ? 'rewritten' : info?.mtimeMs;
      const out = compress ? encode(file, body, String(req.headers['accept-encoding'] ?? ''), mtime) : { body, enc: null };
      const headers = {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        vary: 'accept-encoding',
      };
      if (out.enc) headers['content-encoding'] = out.enc;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : out.body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${server.address().port}/` }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : dflt;
  };
  const here = fileURLToPath(new URL('..', import.meta.url));
  const { url } = await serve(arg('--dir', join(here, 'www/dist')), Number(arg('--port', process.env.PORT ?? 8080)));
  console.log(`Embedgate pages: ${url}  (Ctrl-C to stop)`);
}
