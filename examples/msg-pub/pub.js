// Exports wasmesh:examples/messenger: publishes through wasmcloud:messaging/consumer, and asks one subscriber (request-reply).
import { publish, request } from 'wasmcloud:messaging/consumer@0.2.0'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const messenger = {
  // consumer's result<_, string> arrives as a throw on err; rethrown, it becomes this export's err
  send(subject, text) {
    publish({ subject, body: encoder.encode(text) })
  },
  ask(subject, text, timeoutMs) {
    const reply = request(subject, encoder.encode(text), timeoutMs)
    return decoder.decode(reply.body)
  }
}
