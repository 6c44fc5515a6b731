// Replaces (or appends) one "## <heading>" section of docs/benchmarks.md; other sections are left alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../tests/e2e/worker-harness.mjs';

export function writeSection(heading, section) {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const escaped = heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const start = doc.search(new RegExp(`^## ${escaped}`, 'm'));
  if (start >= 0) {
    const rest = doc.slice(start + 1).search(/^## /m);
    const end = rest >= 0 ? start + 1 + rest : doc.length;
    doc = doc.slice(0, start) + section + (end < doc.length ? '\n' + doc.slice(end) : '');
  } else {
    doc = doc.replace(/\n*$/, '\n\n') + section;
  }
  writeFileSync(path, doc);
  console.error(`bench: wrote the "${heading}" section of ${path}`);
}
