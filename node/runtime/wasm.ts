// Typed access to the WebAssembly global: the project's TypeScript libs (no DOM) do not declare it.

/** A compiled core module; cloneable to workers. */
export interface WasmModule { readonly __brand?: 'WebAssembly.Module' }
export interface WasmMemory { readonly buffer: ArrayBuffer }
export interface WasmInstance { readonly exports: Record<string, unknown> }

interface WasmApi {
  compile (bytes: Uint8Array): Promise<WasmModule>
  instantiate (module: WasmModule, imports?: object): Promise<WasmInstance>
  readonly Memory: abstract new (...args: never[]) => WasmMemory
}

export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly
