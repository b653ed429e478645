// A throwaway self-signed TLS certificate for localhost and 127.0.0.1, made with the openssl command line for a benchmark's run.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

export interface SelfSigned {
  /** Holds `key.pem` and `cert.pem`. */
  readonly dir: string
  readonly key: Buffer
  readonly cert: Buffer
}

/** Writes an ECDSA P-256 key and a one-day certificate into `dir` (which the caller removes). */
export async function selfSignedCertificate (dir: string): Promise<SelfSigned> {
  const keyPath = join(dir, 'key.pem')
  const certPath = join(dir, 'cert.pem')
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyPath, '-out', certPath
  ])
  const [key, cert] = await Promise.all([readFile(keyPath), readFile(certPath)])
  return { dir, key, cert }
}
