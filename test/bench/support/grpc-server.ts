// Child process of the wrpc bench: a @grpc/grpc-js server of the unary echo on 127.0.0.1, with TLS (`--tls <dir>` holding key.pem and cert.pem) or without.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { serveUntilStdinEnds } from './child.ts'
import { GRPC_CHANNEL_OPTIONS, grpcEchoService } from './echo.ts'

const [flag, dir] = process.argv.slice(2)
let credentials: grpc.ServerCredentials
if (flag === '--tls' && dir !== undefined) {
  const [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))])
  credentials = grpc.ServerCredentials.createSsl(null, [{ private_key: key, cert_chain: cert }])
} else if (flag === undefined) {
  credentials = grpc.ServerCredentials.createInsecure()
} else {
  process.stderr.write('usage: grpc-server.ts [--tls <dir with key.pem and cert.pem>]\n')
  process.exit(2)
}

const server = new grpc.Server(GRPC_CHANNEL_OPTIONS)
server.addService(grpcEchoService, {
  echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => { callback(null, call.request) }
})
const port = await new Promise<number>((resolve, reject) => {
  server.bindAsync('127.0.0.1:0', credentials, (err, p) => { if (err != null) reject(err); else resolve(p) })
})
serveUntilStdinEnds(`127.0.0.1:${port}`, async () => {
  await new Promise<void>(resolve => { server.tryShutdown(() => { resolve() }) })
})
