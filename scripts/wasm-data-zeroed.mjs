// Writes a copy of a .wasm module with every data segment's bytes set to zero, so that its gzip size
// is the size of everything but the data (code, types, imports, exports): the floor that no move of
// texts or tables out of the module can go below. With --sections it writes nothing and prints each
// section's raw and gzip -9 size instead (how much of the module is code, how much data).
//   node scripts/wasm-data-zeroed.mjs in.wasm out.wasm
//   node scripts/wasm-data-zeroed.mjs --sections in.wasm
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const args = process.argv.slice(2);
const sections = args[0] === "--sections";
const [input, output] = sections ? args.slice(1) : args;
if (!input || (!output && !sections)) {
  console.error(
    "usage: node scripts/wasm-data-zeroed.mjs in.wasm out.wasm | --sections in.wasm",
  );
  process.exit(2);
}
const b = readFileSync(input);
if (b.readUInt32LE(0) !== 0x6d736100)
  throw new Error(`${input}: not a wasm module`);

let at = 8;
function leb() {
  let result = 0,
    shift = 0,
    byte;
  do {
    byte = b[at++];
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return result;
}
// A constant expression (the segment's offset) ends with `end` (0x0b); the ones rustc emits are
// one instruction with a LEB operand, so the first 0x0b after the opcode's operand ends it.
function skipConstExpr() {
  const op = b[at++];
  if (op === 0x41 || op === 0x42 || op === 0x23) leb();
  else
    throw new Error(
      `unexpected offset expression opcode 0x${op.toString(16)} at ${at - 1}`,
    );
  if (b[at++] !== 0x0b)
    throw new Error(`offset expression not ended at ${at - 1}`);
}

const NAMES = ["custom", "type", "import", "function", "table", "memory", "global", "export",
  "start", "element", "code", "data", "data count"];
const kib = (n) => (n / 1024).toFixed(1);
if (sections) console.log("| section | raw KiB | gzip -9 KiB |\n| --- | ---: | ---: |");
let zeroed = 0;
while (at < b.length) {
  const id = b[at++];
  const size = leb();
  const end = at + size;
  if (sections) {
    const body = b.subarray(at, end);
    console.log(`| ${NAMES[id] ?? id} | ${kib(size)} | ${kib(gzipSync(body, { level: 9 }).length)} |`);
  } else if (id === 11) {
    const count = leb();
    for (let i = 0; i < count; i++) {
      const flags = leb();
      if (flags === 2) leb(); // memory index
      if (flags !== 1) skipConstExpr(); // 1: passive, no offset
      const len = leb();
      b.fill(0, at, at + len);
      zeroed += len;
      at += len;
    }
  }
  at = end;
}
if (!sections) {
  writeFileSync(output, b);
  console.error(`${zeroed} data bytes zeroed`);
}
