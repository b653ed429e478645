// An HTTP echo: streams the request body back as the response body, chunk by chunk, never whole.
addEventListener('fetch', event => {
  const req = event.request
  const headers = { 'content-type': req.headers.get('content-type') ?? 'application/octet-stream' }
  if (req.body === null) {
    event.respondWith(new Response('', { headers }))
    return
  }
  event.respondWith(new Response(req.body, { headers }))
})
