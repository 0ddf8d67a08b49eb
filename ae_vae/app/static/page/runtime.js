// Loads the vendored onnxruntime-web once per page: plain single-threaded WebAssembly (a Space is not
// cross-origin isolated), its .wasm shipped gzipped and unpacked here with the browser's own DecompressionStream.

let loading = null;

export function loadRuntime(vendorUrl) {
  if (loading) return loading;
  loading = (async () => {
    if (typeof WebAssembly !== 'object' || typeof DecompressionStream !== 'function') {
      throw new Error('this browser has no WebAssembly (or no DecompressionStream)');
    }
    const ort = await import(`${vendorUrl}/ort.wasm.bundle.min.mjs`);
    const response = await fetch(`${vendorUrl}/ort-wasm-simd-threaded.wasm.gz`);
    if (!response.ok) throw new Error(`the runtime's WebAssembly did not load (HTTP ${response.status})`);
    const unpacked = response.body.pipeThrough(new DecompressionStream('gzip'));
    ort.env.wasm.wasmBinary = await new Response(unpacked).arrayBuffer();
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    return ort;
  })();
  loading.catch(() => { loading = null; });
  return loading;
}
