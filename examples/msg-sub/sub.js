// Exports wasmcloud:messaging/handler: logs every message through local:demo/host, and answers a request (a message with reply-to) with its text in upper case.
import { publish } from 'wasmcloud:messaging/consumer@0.2.0'
import { log } from 'local:demo/host'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const handler = {
  handleMessage(msg) {
    const text = decoder.decode(msg.body)
    log(`${msg.subject}: ${text}`)
    if (msg.replyTo !== undefined) publish({ subject: msg.replyTo, body: encoder.encode(text.toUpperCase()) })
  }
}
