// The wasm module, loaded once. Every page goes through these typed wrappers.
import init, * as wasm from '../pkg/embedgate_wasm.js';
import type { Fix, Scenario } from '../pkg/embedgate_wasm.js';

export type * from '../pkg/embedgate_wasm.js';

let ready: Promise<unknown> | undefined;

/** Loads the module (the .wasm sits next to the page's script). */
export function load(): Promise<unknown> {
  ready ??= init({ module_or_path: new URL('./embedgate_wasm_bg.wasm', import.meta.url) }).catch((e) => {
    ready = undefined; // a failed load may be retried
    throw e;
  });
  return ready;
}

export const validate = wasm.validate;
export const checkText = wasm.checkText;
export const capabilities = wasm.capabilities;
export const rules = wasm.rules;
export const explain = wasm.explain;
export const locate = wasm.locate;
export const requestPreview = wasm.requestPreview;

/** Applies a fix to a scenario object (the core's JSON Patch). */
export function applyFix(scenario: Scenario, fix: Fix): Scenario {
  return wasm.applyFix(scenario, fix) as Scenario;
}

/** Applies a fix to scenario JSON text; returns pretty JSON. */
export function applyFixText(text: string, fix: Fix): string {
  return wasm.applyFix(text, fix) as string;
}
