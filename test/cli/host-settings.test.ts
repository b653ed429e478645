// The settings of the host interfaces in flags and config files: http grants, config values, secrets.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, grantsByComponent, loadConfigFile, parseComponentSetting, parseGrantArg } from '../../cli/config.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'

let dir: ScratchDir

beforeAll(async () => { dir = await scratchDir('host-settings') })
afterAll(async () => { await dir?.remove() })

describe('--grant <name>:http=', () => {
  it('takes hosts, merges repeated grants and refuses what is not a host', () => {
    const grants = [parseGrantArg('api:http=api.example.com,*.internal', '/'), parseGrantArg('api:http=127.0.0.1:8080', '/')]
    expect(grantsByComponent(grants, {}).get('api')).toEqual({ readOnlyDirs: {}, env: {}, network: false, http: ['api.example.com', '*.internal', '127.0.0.1:8080'] })
    for (const bad of ['api:http=', 'api:http=a,,b', 'api:http=https://x.com', 'api:http=*', 'api:http=x.com:99999', 'api:http=user@x.com']) {
      expect(() => parseGrantArg(bad, '/'), bad).toThrow(/grant/)
    }
  })
})

describe('--config-value and --secret', () => {
  it('parse <component>:<key>=<value>, the value may hold = and :', () => {
    expect(parseComponentSetting('api:url=http://x/?a=b', 'config-value')).toEqual({ component: 'api', key: 'url', value: 'http://x/?a=b' })
    expect(parseComponentSetting('api:token=file:/run/secrets/t', 'secret')).toEqual({ component: 'api', key: 'token', value: 'file:/run/secrets/t' })
    for (const bad of ['api', 'api:=v', ':k=v', 'api:k', `api:${'k'.repeat(200)}=v`]) expect(() => parseComponentSetting(bad, 'config-value'), bad).toThrow(/config-value/)
    expect(() => parseComponentSetting('api:token=plain', 'secret')).toThrow(/never the secret itself/)
    expect(() => parseComponentSetting('api:token=env:not a name', 'secret')).toThrow(/never the secret itself/)
  })

  it('come from a config file as strings or tables; a secret file: path is relative to the file', async () => {
    const yaml = join(dir.path, 'node.yaml')
    await writeFile(yaml, 'config-value: {api: {greeting: hello, retries: 3}}\nsecret:\n  api:\n    token: "file:secrets/token"\n')
    const settings = await loadConfigFile(yaml)
    expect(settings.configValue).toEqual([{ component: 'api', key: 'greeting', value: 'hello' }, { component: 'api', key: 'retries', value: '3' }])
    expect(settings.secret).toEqual([{ component: 'api', key: 'token', value: `file:${join(dir.path, 'secrets/token')}` }])
    const toml = join(dir.path, 'node.toml')
    await writeFile(toml, 'config-value = ["api:greeting=hi"]\n[secret.api]\ntoken = "env:API_TOKEN"\n')
    const t = await loadConfigFile(toml)
    expect(t.configValue).toEqual([{ component: 'api', key: 'greeting', value: 'hi' }])
    expect(t.secret).toEqual([{ component: 'api', key: 'token', value: 'env:API_TOKEN' }])
  })

  it('a secret value in a file is refused as bad-config naming the line, without repeating the value', async () => {
    const yaml = join(dir.path, 'bad.yaml')
    await writeFile(yaml, 'listen: [/ip4/127.0.0.1/tcp/0]\nsecret: {api: {token: hunter2}}\n')
    const err = await loadConfigFile(yaml).then(() => null, (e: unknown) => e as ConfigError)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err?.code).toBe('bad-config')
    expect(err?.line).toBe(2)
    expect(err?.message).not.toContain('hunter2')
  })
})
