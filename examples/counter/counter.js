// Exports wasmesh:examples/counter: a named counter in the "counter" bucket of a wasi:keyvalue store.
import { open } from 'wasi:keyvalue/store@0.2.0-draft'
import { increment as atomicIncrement } from 'wasi:keyvalue/atomics@0.2.0-draft'

export const counter = {
  increment(name) {
    const bucket = open('counter')
    try {
      // A number, not 1n: StarlingMonkey takes either for a u64 parameter, QuickJS traps on a bigint.
      // The result goes back as it came (bigint from StarlingMonkey, number from QuickJS), the form each engine lowers.
      return atomicIncrement(bucket, name, 1)
    } finally {
      // Drop the handle now rather than at garbage collection, so the host's table does not grow per call.
      bucket[Symbol.dispose]?.()
    }
  }
}
