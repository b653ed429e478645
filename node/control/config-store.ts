// Named configs (wasmCloud's config put/get/del): sets of key/value pairs a component is scaled with, bounded in count and bytes.

import type { ControlLimits } from './limits.ts'
import { ControlError } from './errors.ts'

/** A config name, as wasmCloud's `wash config put` takes it. */
export const CONFIG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export interface ConfigStore {
  put (name: string, values: ReadonlyArray<readonly [string, string]>): void
  get (name: string): Readonly<Record<string, string>> | undefined
  delete (name: string): boolean
  names (): string[]
  /** The named configs merged in order (later names win); a name not held is `not-found`. */
  merge (names: readonly string[]): Record<string, string>
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8')

export function checkConfigName (name: string): void {
  if (!CONFIG_NAME.test(name)) throw new ControlError('invalid-argument', `config name ${JSON.stringify(name.slice(0, 80))}: use 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit`)
}

export function createConfigStore (limits: Pick<ControlLimits, 'maxConfigs' | 'maxConfigEntries' | 'maxConfigValueBytes' | 'maxConfigTotalBytes'>): ConfigStore {
  const configs = new Map<string, Readonly<Record<string, string>>>()
  const sizeOf = (c: Readonly<Record<string, string>>): number => Object.entries(c).reduce((n, [k, v]) => n + bytes(k) + bytes(v), 0)
  let total = 0

  return {
    put (name, values) {
      checkConfigName(name)
      if (values.length > limits.maxConfigEntries) throw new ControlError('limit-exceeded', `config ${name} has ${values.length} entries, past maxConfigEntries (${limits.maxConfigEntries})`)
      const config: Record<string, string> = {}
      for (const [k, v] of values) {
        if (k === '') throw new ControlError('invalid-argument', `config ${name} has an empty key`)
        if (bytes(k) > limits.maxConfigValueBytes || bytes(v) > limits.maxConfigValueBytes) throw new ControlError('limit-exceeded', `config ${name}: key or value of ${JSON.stringify(k.slice(0, 40))} is past maxConfigValueBytes (${limits.maxConfigValueBytes})`)
        if (Object.hasOwn(config, k)) throw new ControlError('invalid-argument', `config ${name} gives key ${JSON.stringify(k)} twice`)
        config[k] = v
      }
      const old = configs.get(name)
      if (old === undefined && configs.size >= limits.maxConfigs) throw new ControlError('limit-exceeded', `this node holds ${configs.size} named configs, its maxConfigs: delete one first`)
      const next = total - (old === undefined ? 0 : sizeOf(old)) + sizeOf(config)
      if (next > limits.maxConfigTotalBytes) throw new ControlError('limit-exceeded', `named configs would hold ${next} bytes, past maxConfigTotalBytes (${limits.maxConfigTotalBytes})`)
      configs.set(name, Object.freeze(config))
      total = next
    },
    get: name => configs.get(name),
    delete (name) {
      const old = configs.get(name)
      if (old === undefined) return false
      configs.delete(name)
      total -= sizeOf(old)
      return true
    },
    names: () => [...configs.keys()].sort(),
    merge (names) {
      const out: Record<string, string> = {}
      for (const n of names) {
        const c = configs.get(n)
        if (c === undefined) throw new ControlError('not-found', `no named config ${JSON.stringify(n)} on this node: put it first (wasmesh config put ${n} key=value)`)
        Object.assign(out, c)
      }
      return out
    }
  }
}
