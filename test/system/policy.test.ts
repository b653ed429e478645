// The policy with a real `wasmesh node` process serving builtin:keyvalue: an allowed member is served, one without permission and one with a forged certificate get `refused`, visible in the node's log and metrics.

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createNode } from '../../node/index.ts'
import type { MeshNode } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { loadOrCreateIdentity } from '../../node/identity.ts'
import { STORE } from '../../node/providers/keyvalue/index.ts'
import { Processes, until } from './processes.ts'
import type { NodeProcess } from './processes.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { eventually } from '../support/eventually.ts'

describe('a wasmesh node with --policy, --trust-admin and builtin:keyvalue', () => {
  const processes = new Processes()
  const callers: MeshNode[] = []
  let dir: ScratchDir
  let kv: NodeProcess
  let metricsUrl: string

  beforeAll(async () => {
    dir = await scratchDir('system-policy')
    const keys = await Promise.all([
      processes.cli(['key', 'new', '--signing', '--out', join(dir.path, 'admin.key')]),
      processes.cli(['key', 'new', '--signing', '--out', join(dir.path, 'rogue.key')])
    ])
    for (const k of keys) expect(k.code, k.stderr).toBe(0)
    const pub = await processes.cli(['key', 'public', join(dir.path, 'admin.key'), '--out', join(dir.path, 'admin.pub')])
    expect(pub.code, pub.stderr).toBe(0)
    await writeFile(join(dir.path, 'policy.yaml'), [
      'version: 1',
      'rules:',
      '  - name: web uses kv',
      '    allow: call',
      '    peers: [label:role=web]',
      '    interfaces: [wasi:keyvalue/*]',
      ''
    ].join('\n'))
    kv = await processes.node('kv', [
      '--provider', 'kv=builtin:keyvalue', '--provider-config', 'kv:backend=memory', '--no-demo-host',
      '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, 'kv'), '--metrics', '127.0.0.1:0',
      '--policy', join(dir.path, 'policy.yaml'), '--trust-admin', join(dir.path, 'admin.pub')
    ])
    metricsUrl = /^metrics: (\S+)/m.exec(kv.output())![1]
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled(callers.map(async n => { await n.stop() }))
    await processes.killAll()
    await dir?.remove()
  })

  /** A caller node in this process, presenting a certificate `wasmesh key sign-member` made for its peer id. */
  async function caller (name: string, signer: string, label: string): Promise<MeshNode> {
    const privateKey: PrivateKey = await generateKeyPair('Ed25519')
    const peer = peerIdFromPrivateKey(privateKey).toString()
    const cert = join(dir.path, `${name}.cert`)
    const signed = await processes.cli(['key', 'sign-member', '--key', join(dir.path, signer), '--peer', peer, '--label', label, '--expires', '1h', '--out', cert])
    expect(signed.code, signed.stderr).toBe(0)
    expect(signed.stdout).toContain(`for ${peer} (labels ${label}, lattice default`)
    const node = await createNode({ privateKey, memberCert: (await readFile(cert, 'utf8')).trim(), listen: [], bootstrap: [kv.addresses[0]], logger: silentLogger, routing: { maxRetries: 0 } })
    callers.push(node)
    await node.start()
    await eventually(`${name} to know the store`, () => node.servers(STORE).length > 0, 20_000)
    return node
  }

  async function open (node: MeshNode): Promise<{ code: string, message: string } | { tag: string }> {
    try {
      const [r] = await node.call(STORE, 'open', ['b'], { timeoutMs: 10_000 }) as [{ tag: string }]
      return r
    } catch (err) {
      return { code: (err as { code: string }).code, message: (err as Error).message }
    }
  }

  async function metric (line: RegExp): Promise<string | undefined> {
    const text = await (await fetch(`${metricsUrl}`)).text()
    return text.split('\n').find(l => line.test(l))
  }

  it('serves a member whose certificate allows it, refuses one whose certificate does not', async () => {
    const web = await caller('web', 'admin.key', 'role=web')
    const batch = await caller('batch', 'admin.key', 'role=batch')
    expect(await open(web)).toMatchObject({ tag: 'ok' })
    const refused = await open(batch)
    expect(refused).toMatchObject({ code: 'refused' })
    expect((refused as { message: string }).message).toContain('may not call wasi:keyvalue/store@0.2.0-draft#open on this node (policy default-deny-data')
    await until('the refusal to be counted', 10_000, async () => await metric(/^wasmesh_calls_refused_total\{interface="wasi:keyvalue\/store@0.2.0-draft",rule="default-deny-data"\} 1$/))
    expect(kv.output()).toContain(`peer ${batch.peerId} may not call wasi:keyvalue/store@0.2.0-draft#open`)
  }, 60_000)

  it('admits `wasmesh call` with --data-dir and the --member-cert issued to that identity, and refuses it without', async () => {
    const identity = join(dir.path, 'cli-client')
    const id = await processes.cli(['key', 'peer-id', '--data-dir', identity])
    expect(id.code, id.stderr).toBe(0)
    const peer = id.stdout.trim()
    expect(peer).toBe(peerIdFromPrivateKey(await loadOrCreateIdentity(identity)).toString())
    const cert = join(dir.path, 'cli-client.cert')
    const signed = await processes.cli(['key', 'sign-member', '--key', join(dir.path, 'admin.key'), '--peer', peer, '--label', 'role=web', '--expires', '1h', '--out', cert])
    expect(signed.code, signed.stderr).toBe(0)
    const call = ['call', 'wasi:keyvalue/store@0.2.0-draft#open("cli")', '--bootstrap', kv.addresses[0], '--data-dir', identity, '--timeout', '20s']
    const admitted = await processes.cli([...call, '--member-cert', cert])
    expect(admitted.code, admitted.stderr).toBe(0)
    expect(admitted.stdout).toMatch(/^ok\(/)
    const refused = await processes.cli(call)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('error [refused]')
    const noIdentity = await processes.cli(['call', 'wasi:keyvalue/store@0.2.0-draft#open("cli")', '--bootstrap', kv.addresses[0], '--member-cert', cert])
    expect(noIdentity.code).toBe(2)
    expect(noIdentity.stderr).toContain('--member-cert needs --data-dir')
  }, 90_000)

  it('rejects a certificate signed by a key it does not trust, logs and counts it, and refuses the call', async () => {
    const forged = await caller('forged', 'rogue.key', 'role=web')
    expect(await open(forged)).toMatchObject({ code: 'refused' })
    await until('the rejection to be counted', 10_000, async () => await metric(/^wasmesh_member_certs_rejected_total\{reason="untrusted"\} 1$/))
    expect(kv.output()).toMatch(new RegExp(`member certificate of ${forged.peerId} refused \\(untrusted\\)`))
  }, 60_000)

  it('reloads the policy on SIGHUP: the member refused before is served after', async () => {
    const batch = await caller('batch2', 'admin.key', 'role=batch')
    expect(await open(batch)).toMatchObject({ code: 'refused' })
    await writeFile(join(dir.path, 'policy.yaml'), 'rules:\n  - allow: call\n    peers: [label:role=batch]\n    interfaces: [wasi:keyvalue/*]\n')
    kv.kill('SIGHUP')
    await until('the reloaded policy to say so', 10_000, async () => kv.output().includes('policy reloaded from') ? true : undefined)
    expect(await open(batch)).toMatchObject({ tag: 'ok' })
  }, 60_000)

  it('refuses to start with a certificate issued to another peer', async () => {
    const run = await processes.cli(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir.path, 'thief'), '--member-cert', join(dir.path, 'web.cert'), '--trust-admin', join(dir.path, 'admin.pub')])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/error \[bad-key\]: this node's member certificate: the certificate was issued to 12D3KooW\w+, not to 12D3KooW/)
  }, 60_000)
})
