// Native providers on the command line: `--provider [name=]<module>` with its config and secrets, started beside the node's components.

import { parseProviderSetting, SettingError } from './config.ts'
import type { ProviderArg } from './config.ts'
import type { Logger } from '../node/logger.ts'
import type { MeshNode } from '../node/index.ts'
import { createProvider, loadProviderModule } from '../node/providers/sdk.ts'
import type { Provider } from '../node/providers/sdk.ts'

/** Applies `--provider-config`/`--provider-secret` settings to the providers they name. */
export function withSettings (providers: readonly ProviderArg[], config: readonly string[], secrets: readonly string[]): ProviderArg[] {
  const byName = new Map(providers.map(p => [p.name, { ...p, config: { ...p.config }, secrets: { ...p.secrets } }]))
  if (byName.size !== providers.length) throw new SettingError('two providers have the same name: name them with --provider <name>=<module>')
  const apply = (text: string, what: 'config' | 'secret'): void => {
    const s = parseProviderSetting(text, what)
    const p = byName.get(s.provider)
    if (p === undefined) throw new SettingError(`provider ${what} ${JSON.stringify(text)}: no provider is named ${s.provider} (providers: ${[...byName.keys()].join(', ') || 'none'})`)
    ;(what === 'config' ? p.config : p.secrets)[s.key] = s.value
  }
  for (const c of config) apply(c, 'config')
  for (const s of secrets) apply(s, 'secret')
  return [...byName.values()]
}

/**
 * Loads, checks and starts each provider and serves it on `node`. A provider whose module does
 * not load, does not match its WIT, or whose start fails is reported and not served; the node
 * keeps running with the others.
 */
export async function startProviders (node: MeshNode, providers: readonly ProviderArg[], opts: { log: Logger, dataDir: string }): Promise<Provider[]> {
  const started: Provider[] = []
  for (const p of providers) {
    try {
      const module = await loadProviderModule(p.module)
      const provider = await createProvider(module, { config: p.config, secrets: p.secrets, log: opts.log.child(p.name), dataDir: opts.dataDir })
      await provider.start()
      node.serve(provider.service)
      started.push(provider)
    } catch (err) {
      opts.log.error(`provider ${p.name} (${p.module}) is not served: ${(err as Error).message}`)
    }
  }
  return started
}
