// wasmcloud:secrets/store and reveal (0.1.0-draft): the secrets granted to one component, as opaque handles revealed on demand.

/** Reads the secret `key` from its reference (`env:NAME`, `file:/path`) when a component asks for it; a failure's message names the key and the reference, never a value. */
export type SecretSource = (key: string, ref: string) => Promise<string>

export interface SecretsInit {
  /** key -> reference, as granted to the component. */
  readonly refs: Readonly<Record<string, string>>
  readonly source: SecretSource | undefined
  readonly maxSecretHandles: number
  /** Every value revealed, so that the component's log lines can hide them. */
  readonly revealed: Set<string>
}

/** The secret handles of one instance. */
export interface InstanceSecrets {
  get (key: unknown): Promise<unknown[]>
  reveal (handle: unknown): unknown[]
  drop (handle: unknown): void
}

const hex = (b: Uint8Array): string => Array.from(b, x => x.toString(16).padStart(2, '0')).join('')

export function createInstanceSecrets (init: SecretsInit): InstanceSecrets {
  const handles = new Map<string, string>()
  return {
    async get (key) {
      if (typeof key !== 'string' || !Object.hasOwn(init.refs, key)) return [{ tag: 'err', val: { tag: 'not-found' } }]
      if (init.source === undefined) return [{ tag: 'err', val: { tag: 'upstream', val: 'this node has no secret source' } }]
      if (handles.size >= init.maxSecretHandles) {
        return [{ tag: 'err', val: { tag: 'upstream', val: `this instance holds ${handles.size} secret handles (maxSecretHandles): drop some first` } }]
      }
      let value: string
      try {
        value = await init.source(key, init.refs[key])
      } catch (err) {
        // The source's message names the reference (env:NAME, file:/path), never a value.
        return [{ tag: 'err', val: { tag: 'io', val: err instanceof Error ? err.message : `secret ${key} cannot be read` } }]
      }
      if (value !== '') init.revealed.add(value)
      const handle = crypto.getRandomValues(new Uint8Array(16))
      handles.set(hex(handle), value)
      return [{ tag: 'ok', val: handle }]
    },
    reveal (handle) {
      const value = handle instanceof Uint8Array ? handles.get(hex(handle)) : undefined
      // A handle this instance never got cannot come from a well-behaved guest: jco checks its own table first.
      if (value === undefined) throw new Error('wasmcloud:secrets/reveal: unknown secret handle')
      return [{ tag: 'string', val: value }]
    },
    drop (handle) {
      if (handle instanceof Uint8Array) handles.delete(hex(handle))
    }
  }
}
