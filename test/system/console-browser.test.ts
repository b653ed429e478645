// The console in a real headless Chromium: a node started by the CLI, a mesh around it joining and leaving, a call the page shows.

import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Browser, Page } from 'puppeteer-core'
import { createNode } from '../../node/index.ts'
import type { MeshNode } from '../../node/index.ts'
import { silentLogger } from '../../node/logger.ts'
import { describeBrowser, launchBrowser } from '../support/browser.ts'
import { fast } from '../support/mesh.ts'
import { scratchDir } from '../support/scratch.ts'
import type { ScratchDir } from '../support/scratch.ts'
import { listeningOn, start } from '../cli/helpers.ts'
import type { Running } from '../cli/helpers.ts'

// The page's globals as the callbacks below use them, in the browser (the project's TypeScript lib has no DOM,
// and a `/// <reference lib="dom" />` here would change fetch's types for the whole program).
interface PageElement { readonly textContent: string | null, readonly lastElementChild: PageElement | null }
declare const document: {
  querySelector (selector: string): PageElement | null
  querySelectorAll (selector: string): ArrayLike<PageElement>
  getElementById (id: string): PageElement | null
  readonly activeElement: PageElement | null
}
declare const window: { readonly __pwned?: number }

// Set as a peer's label: the page must show it as text, never run it.
const HOSTILE = '<img src=x onerror="window.__pwned=1">'

describeBrowser('the console in a browser', chromium => {
  let scratch: ScratchDir
  let consoleNode: Running
  let url: string
  let bootstrap: string[]
  let browser: Browser
  let page: Page
  const nodes: MeshNode[] = []
  const pageErrors: string[] = []

  async function join (labels: Record<string, string>): Promise<MeshNode> {
    const node = await createNode({ transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, labels, timings: fast, cacheDir: scratch.path, logger: silentLogger })
    nodes.push(node)
    await node.start()
    return node
  }

  const rows = async (): Promise<number> => await page.$$eval('#peer-rows tr', trs => trs.length)

  beforeAll(async () => {
    scratch = await scratchDir('console-browser')
    consoleNode = start(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', `${scratch.path}/console`, '--console', '127.0.0.1:0', '--label', 'name=console', '--log-format', 'text'])
    const line = await consoleNode.out.waitFor(l => l.startsWith('console: '), consoleNode.exited)
    url = line.split(' ')[1]
    bootstrap = listeningOn(consoleNode.out.text)
    browser = await launchBrowser(chromium)
    page = await browser.newPage()
    page.on('console', msg => { if (msg.type() === 'error') pageErrors.push(msg.text()) })
    page.on('pageerror', err => { pageErrors.push(String(err)) })
  })

  afterAll(async () => {
    await browser?.close()
    await Promise.allSettled(nodes.map(async n => { await n.stop() }))
    await consoleNode?.stop()
    await scratch?.remove()
  })

  it('shows a 3-node mesh, a node joining and leaving, and a call made by the test, with no console errors', async () => {
    await join({ name: 'bravo' })
    await join({ name: 'charlie' })
    await page.goto(url, { waitUntil: 'load' })
    await page.waitForFunction(() => document.getElementById('feed')?.textContent === 'live')
    await page.waitForFunction(() => document.querySelectorAll('#peer-rows tr').length === 3)
    expect(await page.$eval('#peer-rows', e => e.textContent)).toMatch(/this node[\s\S]*name=bravo|name=bravo[\s\S]*this node/)

    // a fourth node joins, its label hostile markup
    const delta = await join({ name: 'delta', note: HOSTILE })
    await page.waitForFunction(() => document.querySelectorAll('#peer-rows tr').length === 4)
    expect(await page.$eval('#peer-rows', e => e.textContent)).toContain(`note=${HOSTILE}`)
    expect(await page.$$('#peer-rows img')).toHaveLength(0)
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined()
    // the topology draws it, connected to this node
    await page.waitForFunction(() => document.querySelectorAll('#topology line').length === 3)

    // it leaves: the row goes, the adverts list says so
    await delta.stop()
    await page.waitForFunction(() => document.querySelectorAll('#peer-rows tr').length === 3)
    await page.waitForFunction(() => document.querySelector('#adverts li[data-change="withdrawn"]') !== null)

    // a call made here reaches the console's node (its built-in local:demo/host): counted in the calls table, logged in its tail
    await nodes[0].call('local:demo/host', 'log', ['hello from the browser test'])
    await page.waitForFunction(() => {
      const row = document.querySelector('#call-rows tr[data-iface="local:demo/host"][data-direction="inbound"]')
      return row !== null && row.lastElementChild?.textContent === '1'
    })
    await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('hello from the browser test') === true)
    expect(await page.$$eval('#iface-rows tr[data-iface="local:demo/host"]', trs => trs.map(tr => tr.children[1].textContent))).toEqual(['this node'])

    expect(pageErrors, pageErrors.join("\n")).toEqual([])
  })

  it('can be used from the keyboard: a skip link first, every scrolling region focusable, every table with column headers', async () => {
    await page.goto(url, { waitUntil: 'load' })
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to peers')
    const regions = await page.$$eval('.scroll', els => els.map(e => e.getAttribute('tabindex')))
    expect(regions.length).toBeGreaterThan(0)
    expect(regions.every(t => t === '0')).toBe(true)
    const tables = await page.$$eval('table', ts => ts.map(t => t.querySelectorAll('thead th[scope="col"]').length))
    expect(tables.every(n => n > 0)).toBe(true)
    expect(pageErrors).toEqual([])
  })
})
