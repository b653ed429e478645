// Exports wasmesh:examples/http-client: fetch() a URL (the engine's wasi:http/outgoing-handler) and read its whole body.
export const httpClient = {
  async get (url) {
    try {
      const response = await fetch(url)
      const body = await response.text()
      return `${response.status} ${body}`
    } catch (e) {
      throw `fetch: ${e?.message ?? String(e)}`
    }
  }
}
