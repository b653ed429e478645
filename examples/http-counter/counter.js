// An HTTP key-value counter: each request adds 1 to the counter named by its path, kept in a wasi:keyvalue store (a link to builtin:keyvalue).
import { open } from 'wasi:keyvalue/store@0.2.0-draft'
import { increment } from 'wasi:keyvalue/atomics@0.2.0-draft'

addEventListener('fetch', event => {
  const name = new URL(event.request.url).pathname.replace(/^\/+/, '') || 'visits'
  const bucket = open('counter')
  let count
  try {
    count = increment(bucket, name, 1)
  } finally {
    // Drop the handle now rather than at garbage collection, so the host's table does not grow per request.
    bucket[Symbol.dispose]?.()
  }
  event.respondWith(new Response(`${name}: ${count}\n`, { headers: { 'content-type': 'text/plain; charset=utf-8' } }))
})
