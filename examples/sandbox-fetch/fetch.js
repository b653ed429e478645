// Exports wasmesh:examples/probe-http: tries fetch() (the engine's wasi:http import) and reports the outcome.
export const probeHttp = {
  async httpGet(url) {
    let response
    try {
      response = await fetch(url)
    } catch (e) {
      throw `fetch: ${e?.message ?? String(e)}`
    }
    return `HTTP ${response.status} from ${url}`
  }
}
