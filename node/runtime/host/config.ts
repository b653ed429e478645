// wasi:config/store (0.2.0-draft) and the legacy wasi:config/runtime: the named config values the operator gave one component.

export interface ComponentConfigStore {
  get (key: unknown): unknown[]
  getAll (): unknown[]
}

/** Both interfaces return `result<option<string>, error>` and `result<list<tuple<string, string>>, error>`; nothing here can fail. */
export function createConfigStore (values: Readonly<Record<string, string>>): ComponentConfigStore {
  const map = new Map(Object.entries(values))
  return {
    get (key) {
      return [{ tag: 'ok', val: typeof key === 'string' ? map.get(key) : undefined }]
    },
    getAll () {
      return [{ tag: 'ok', val: [...map.entries()].map(([k, v]) => [k, v]) }]
    }
  }
}
