// An HTTP hello: a wasi:http/incoming-handler served through StarlingMonkey's fetch event.
addEventListener('fetch', event => {
  const url = new URL(event.request.url)
  event.respondWith(new Response(`Hello from wasmesh! You asked for ${url.pathname}\n`, {
    headers: { 'content-type': 'text/plain; charset=utf-8' }
  }))
})
