// Exports wasmesh:examples/host-probe: one function per host interface a wasmCloud 1.x component imports.
import { log as wasiLog } from 'wasi:logging/logging@0.1.0-draft'
import { get as configGet, getAll as configAll } from 'wasi:config/store@0.2.0-draft'
import { get as runtimeGet } from 'wasi:config/runtime@0.2.0-draft'
import { get as secretGet } from 'wasmcloud:secrets/store@0.1.0-draft'
import { reveal } from 'wasmcloud:secrets/reveal@0.1.0-draft'
import { CallTargetInterface, setLinkName } from 'wasmcloud:bus/lattice@1.0.0'
import { open } from 'wasi:keyvalue/store@0.2.0-draft'
import { increment as atomicIncrement } from 'wasi:keyvalue/atomics@0.2.0-draft'

/** A secret's value, or a thrown string naming the secrets-error. */
function revealed (key) {
  let secret
  try {
    secret = secretGet(key)
  } catch (e) {
    const err = e?.payload ?? e
    throw err?.val === undefined ? String(err?.tag ?? err) : `${err.tag}: ${err.val}`
  }
  const value = reveal(secret)
  secret[Symbol.dispose]?.()
  return value.tag === 'string' ? value.val : new TextDecoder().decode(value.val)
}

export const hostProbe = {
  log (level, context, message) {
    wasiLog(level, context, message)
  },
  configGet (key) {
    return configGet(key)
  },
  configAll () {
    return configAll()
  },
  runtimeConfigGet (key) {
    return runtimeGet(key)
  },
  secret (key) {
    return revealed(key)
  },
  logSecret (key, level) {
    const value = revealed(key)
    wasiLog(level, 'secret', `the secret is ${value}`)
    return value.length
  },
  incrementVia (linkName, key) {
    setLinkName(linkName, [new CallTargetInterface('wasi', 'keyvalue', 'store'), new CallTargetInterface('wasi', 'keyvalue', 'atomics')])
    const bucket = open('counter')
    try {
      return atomicIncrement(bucket, key, 1)
    } finally {
      bucket[Symbol.dispose]?.()
    }
  }
}
