// Secrets of a provider: `env:NAME` and `file:/path` references resolved at start, and a logger that can never print their values.

import { readFile } from 'node:fs/promises'
import type { Logger } from '../logger.ts'
import { ProviderError } from './errors.ts'

/** `env:NAME` (an environment variable) or `file:/path` (the file's text, one trailing newline removed). */
export type SecretRef = `env:${string}` | `file:${string}`

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Checks references without resolving them, so that a typo fails at `createProvider`, not at start. */
export function checkSecretRefs (refs: Readonly<Record<string, string>>): void {
  for (const [name, ref] of Object.entries(refs)) {
    if (ref.startsWith('env:')) {
      if (!ENV_NAME.test(ref.slice(4))) throw new ProviderError('invalid-config', `secret ${name}: ${JSON.stringify(ref)} is not env:NAME with NAME a valid environment variable name`)
    } else if (ref.startsWith('file:')) {
      if (ref.length === 5) throw new ProviderError('invalid-config', `secret ${name}: file: needs a path (file:/run/secrets/${name})`)
    } else {
      throw new ProviderError('invalid-config', `secret ${name}: use env:NAME or file:/path (the value itself is never accepted in config)`)
    }
  }
}

/** Resolves every reference; one that cannot be read fails naming the reference, never a value. */
export async function resolveSecrets (refs: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = process.env): Promise<Map<string, string>> {
  checkSecretRefs(refs)
  const out = new Map<string, string>()
  for (const [name, ref] of Object.entries(refs)) out.set(name, await resolveSecretRef(name, ref, env))
  return out
}

/** One reference's value (`name` says which secret in errors); a failure names the reference, never a value. */
export async function resolveSecretRef (name: string, ref: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  checkSecretRefs({ [name]: ref })
  if (ref.startsWith('env:')) {
    const value = env[ref.slice(4)]
    if (value === undefined) throw new ProviderError('invalid-config', `secret ${name}: the environment variable ${ref.slice(4)} is not set`)
    return value
  }
  const path = ref.slice(5)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ProviderError('invalid-config', `secret ${name}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  return text.replace(/\r?\n$/, '')
}

/** Replaces every secret value in `text` with `[redacted]`, longest first so that one secret inside another is hidden whole. */
export function redact (text: string, secrets: Iterable<string>): string {
  const values = [...secrets].filter(s => s !== '').sort((a, b) => b.length - a.length)
  let out = text
  for (const v of values) out = out.split(v).join('[redacted]')
  return out
}

/** A logger that redacts secret values from every line, whoever writes it (the provider or the SDK). */
export function redactingLogger (log: Logger, secrets: () => Iterable<string>): Logger {
  return {
    debug: m => { log.debug(redact(m, secrets())) },
    info: m => { log.info(redact(m, secrets())) },
    warn: m => { log.warn(redact(m, secrets())) },
    error: m => { log.error(redact(m, secrets())) },
    child: name => redactingLogger(log.child(name), secrets)
  }
}
