// The policy check's cost on a call: wRPC calls/s (1 and 64 in flight) to a node with a policy of a few rules and a member certificate, beside the same node without one, in one run.
import { createPublicKey, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { MeshNode } from '../../node/index.ts'
import { createAuthorizer, decideCall, generateSigningKey, parsePolicy, signMemberCert, signingKeyJwk } from '../../node/security/index.ts'
import { measure, table } from './harness.ts'
import { startServer } from './support/child.ts'
import type { ServerProcess } from './support/child.ts'
import { ECHO_CALL_IFACE, echoClient } from './support/echo.ts'
import { measureAsync } from './support/timing.ts'
import type { AsyncSample } from './support/timing.ts'
import { scratchDir } from '../support/scratch.ts'

const PAYLOAD_BYTES = 64
const CONCURRENCY = [1, 64] as const
/** Median of many short samples taken in turn with the other case (the 2-core VM moves a sample by up to 2x). */
const RATE = { samples: 15, sampleMs: 300 }

const serverScript = new URL('./support/wrpc-server.ts', import.meta.url)

/**
 * A few rules, the matching one last, so that a verdict not cached would walk them all; the echo is declared
 * data (default-deny), and the rule admits the client by a certificate label, the costliest selector.
 */
function policyText (other: string): string {
  return `version: 1
data: [wasmesh:bench/*]
rules:
  - name: no other
    deny: call
    peers: [${other}]
    interfaces: ["*"]
  - name: ops only
    allow: call
    peers: [label:role=ops]
    interfaces: [wasmesh:control/*]
  - name: web reads kv
    allow: call
    peers: ["label:role=web,zone=eu"]
    interfaces: ["wasi:keyvalue/store#[method]bucket.get"]
  - name: bench clients
    allow: call
    peers: [label:role=bench]
    interfaces: [wasmesh:bench/echo]
`
}

export async function run (): Promise<string> {
  const started = performance.now()
  const scratch = await scratchDir('bench-policy')
  const children: ServerProcess[] = []
  const clients: MeshNode[] = []
  try {
    const admin = generateSigningKey()
    const adminPub = join(scratch.path, 'admin.pub')
    await writeFile(adminPub, signingKeyJwk(createPublicKey(admin), 'public'))
    const policyFile = join(scratch.path, 'policy.yaml')
    await writeFile(policyFile, policyText(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))

    const spawned = await Promise.allSettled([
      startServer(serverScript, ['wrpc']),
      startServer(serverScript, ['wrpc', '--policy', policyFile, '--trust-admin', adminPub])
    ])
    for (const s of spawned) if (s.status === 'fulfilled') children.push(s.value)
    const failed = spawned.find(s => s.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const [plainServer, policyServer] = children

    const privateKey = await generateKeyPair('Ed25519')
    const memberCert = await signMemberCert(admin, { peer: peerIdFromPrivateKey(privateKey).toString(), labels: { role: 'bench' }, expiresAt: Math.floor(Date.now() / 1000) + 3600 })
    const plain = await echoClient(plainServer.address)
    clients.push(plain)
    const member = await echoClient(policyServer.address, { init: { privateKey, memberCert } })
    clients.push(member)
    // the policy is in force: a client without a certificate is refused
    const outsider = await echoClient(policyServer.address, { init: { routing: { maxRetries: 0 } } })
    clients.push(outsider)
    const refused = await outsider.call(ECHO_CALL_IFACE, 'echo', [new Uint8Array(1)]).then(() => 'served', (err: { code?: string }) => err.code)
    if (refused !== 'refused') throw new Error(`a client without a certificate was ${refused ?? 'failed'}, not refused: the policy is not in force`)

    const payload = new Uint8Array(randomBytes(PAYLOAD_BYTES))
    const echo = (node: MeshNode) => async (): Promise<void> => {
      const [got] = await node.call(ECHO_CALL_IFACE, 'echo', [payload]) as [Uint8Array]
      if (got.byteLength !== PAYLOAD_BYTES) throw new Error(`echoed ${got.byteLength} of ${PAYLOAD_BYTES} bytes`)
    }
    for (const fn of [echo(plain), echo(member)]) await fn()
    const NO_POLICY = 'no policy'
    const WITH_POLICY = 'policy (4 rules, certificate label)'
    const cases = CONCURRENCY.flatMap(c => [
      { name: `${NO_POLICY} @${c}`, fn: echo(plain), concurrency: c },
      { name: `${WITH_POLICY} @${c}`, fn: echo(member), concurrency: c }
    ])
    const samples = new Map((await measureAsync(cases, RATE)).map(s => [s.name, s]))
    const get = (name: string, c: number): AsyncSample => samples.get(`${name} @${c}`) as AsyncSample
    const fmt = (s: AsyncSample): string => `${Math.round(s.opsPerSec).toLocaleString('en')} ±${(s.spread * 50).toFixed(0)}%`
    // The check alone, in this process: what inbound.ts asks per call (a cached verdict), and a verdict worked out anew.
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const caller = peerIdFromPrivateKey(privateKey).toString()
    const compiled = parsePolicy(policyText(other))
    const labels = { role: 'bench' }
    const authorizer = createAuthorizer({ policy: compiled, labels: () => labels, labelsNow: () => labels })
    const iface = 'wasmesh:bench/echo@0.1.0'
    if (authorizer.call(caller, iface, 'echo', false) !== authorizer.call(caller, iface, 'echo', false)) throw new Error('the verdict was not cached')
    const cachedCheck = measure({ name: 'policy check, cached verdict (per call)', fn: () => authorizer.call(caller, iface, 'echo', false) })
    const freshCheck = measure({ name: 'policy check, decided anew (4 rules)', fn: () => decideCall(compiled, caller, labels, iface, 'echo', false) })

    const lines = ['| server | calls/s @1 | calls/s @64 | @1 vs no policy | @64 vs no policy |', '|---|---:|---:|---:|---:|']
    for (const name of [NO_POLICY, WITH_POLICY]) {
      const ratio = (c: number): string => `${(get(name, c).opsPerSec / get(NO_POLICY, c).opsPerSec).toFixed(3)}x`
      lines.push(`| ${name} | ${fmt(get(name, 1))} | ${fmt(get(name, 64))} | ${ratio(1)} | ${ratio(64)} |`)
    }
    return [
      '## The policy check on a call (issue 15)',
      '',
      '`npm run bench -- policy`: the 64 B echo of the wrpc bench, served natively by a node in a child process on 127.0.0.1',
      'TCP, called with `node.call` from this process; one server with no policy, one with `--policy` (4 call rules, the echo',
      'declared data so only the last rule, by a certificate label, admits the caller) and `--trust-admin`, the client',
      'presenting a member certificate. A client without one is refused before timing (the policy is in force). Median of',
      `${RATE.samples} samples of ${RATE.sampleMs} ms, all cases in turn; ratio > 1 is faster.`,
      '',
      lines.join('\n'),
      '',
      'The check alone (in process, sync): the cached verdict is what every call after a peer\'s first pays.',
      '',
      table([{ sample: cachedCheck }, { sample: freshCheck }]),
      '',
      `(suite time ${((performance.now() - started) / 1000).toFixed(0)} s)`
    ].join('\n')
  } finally {
    for (const c of clients.reverse()) await c.stop().catch((err: unknown) => { process.stderr.write(`policy bench cleanup: ${String(err)}\n`) })
    await Promise.all(children.map(async c => { await c.stop() }))
    await scratch.remove()
  }
}
