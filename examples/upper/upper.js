// Exports local:demo/upper; logs each message through the host's local:demo/host import.
import { log } from 'local:demo/host'

export const upper = {
  toUpper(msg) {
    log(msg)
    return msg.toUpperCase()
  }
}
