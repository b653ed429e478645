// The entry of an instance worker: the shim's I/O thread made lazy (shim-io.ts) before anything imports the shim, then the worker itself.
import { installLazyShimIo } from './shim-io.ts'

installLazyShimIo()
await import('./worker.ts')
