import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { messagingWit, wasmcloudMessagingWit } from '../../../node/messaging/wit.ts'

describe('the WIT node/messaging carries in code', () => {
  it('is wit/messaging/messaging.wit and wit/deps/wasmcloud-messaging-0.2.0/package.wit byte for byte', () => {
    expect(messagingWit).toBe(readFileSync(new URL('../../../wit/messaging/messaging.wit', import.meta.url), 'utf8'))
    expect(wasmcloudMessagingWit).toBe(readFileSync(new URL('../../../wit/deps/wasmcloud-messaging-0.2.0/package.wit', import.meta.url), 'utf8'))
  })
})
