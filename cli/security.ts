// The node's security settings from their files: its member certificate, the admins it trusts, its policy (reloaded on SIGHUP).

import { loadPolicyFile, readPublicFile, readPublicKey } from '../node/security/index.ts'
import type { MeshNode, NodeInit } from '../node/index.ts'
import type { Logger } from '../node/logger.ts'
import type { NodeSettings } from './config.ts'
import { asKeyError } from './options.ts'
import { CliError } from './errors.ts'

/** A member certificate file's text (`wasmesh key sign-member`); one that cannot be read is `bad-key`. */
export async function memberCertOf (file: string): Promise<string> {
  try {
    return new TextDecoder().decode(await readPublicFile(file, 'member certificate')).trim()
  } catch (err) {
    throw asKeyError(err)
  }
}

/**
 * The client's `--member-cert`: it names one peer id, so it needs the identity it was issued to (`--data-dir`);
 * a fresh identity per run could never present it.
 */
export async function clientMemberCertOf (file: string | undefined, identityDir: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined
  if (identityDir === undefined) throw new CliError('usage', '--member-cert needs --data-dir <dir>: the folder of the identity the certificate was issued to (its peer id)')
  return await memberCertOf(file)
}

/** Reads `--member-cert`, `--trust-admin` and `--policy` into the node's init; every problem names the file. */
export async function securityInit (settings: NodeSettings): Promise<Pick<NodeInit, 'memberCert' | 'trustAdmins' | 'policy'>> {
  try {
    const out: { memberCert?: string, trustAdmins?: NodeInit['trustAdmins'], policy?: NodeInit['policy'] } = {}
    if (settings.memberCert !== undefined) out.memberCert = await memberCertOf(settings.memberCert)
    if (settings.trustAdmin !== undefined && settings.trustAdmin.length > 0) out.trustAdmins = await Promise.all(settings.trustAdmin.map(async f => await readPublicKey(f)))
    if (settings.policy !== undefined) out.policy = await loadPolicyFile(settings.policy)
    return out
  } catch (err) {
    throw asKeyError(err)
  }
}

/**
 * Reads the policy file again on SIGHUP and puts it in force (cached verdicts dropped); a file that no longer
 * parses keeps the policy in force and says why. Returns the unsubscribe.
 */
export function reloadPolicyOnHangUp (node: MeshNode, file: string, log: Logger): () => void {
  const onHangUp = (): void => {
    loadPolicyFile(file).then(policy => {
      node.setPolicy(policy)
      log.info(`policy reloaded from ${file}: ${policy.rules.length} rule${policy.rules.length === 1 ? '' : 's'}`)
    }, (err: unknown) => {
      log.error(`policy not reloaded, the one in force stays: ${(err as Error).message}`)
    })
  }
  process.on('SIGHUP', onHangUp)
  return () => { process.off('SIGHUP', onHangUp) }
}
