// A real headless Chromium for tests (Debian's chromium package, driven by puppeteer-core), and the loud skip without one.

import { existsSync } from 'node:fs'
import puppeteer from 'puppeteer-core'
import type { Browser } from 'puppeteer-core'
import { describeNeeding } from './needs.ts'

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']

/** The browser binary: `$CHROMIUM_PATH`, else Debian's. */
export function findChromium (): { path: string } | { missing: string } {
  const given = process.env.CHROMIUM_PATH
  const path = given !== undefined && given !== '' ? given : CANDIDATES.find(p => existsSync(p))
  if (path === undefined || !existsSync(path)) return { missing: `none of ${given ?? CANDIDATES.join(', ')}` }
  return { path }
}

/** `describe` for tests in a real browser: a loud skip without Chromium, a failure in CI. */
export function describeBrowser (name: string, body: (chromium: string) => void): void {
  const found = findChromium()
  describeNeeding(name, { what: 'Chromium', install: "Install Debian's chromium package (or set CHROMIUM_PATH)", ...('missing' in found ? { missing: found.missing } : {}) }, () => {
    if ('path' in found) body(found.path)
  })
}

/** Headless, no sandbox (tests run as root in CI), no first-run or network noise. */
export async function launchBrowser (chromium: string): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-extensions']
  })
}
