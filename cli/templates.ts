// The project templates of `wasmesh new`: each a WIT, a source (JavaScript or TypeScript), a wasmesh.json, a README and a test, as text so that they ship inside the package.
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { JsEngine } from './build/toolchain.ts'
import { HTTP_WASI_VERSION } from './build/wasi-wit.ts'

export type Language = 'js' | 'ts'

export interface TemplateInit {
  /** The project's name (checked: projectNamePattern). */
  readonly name: string
  readonly engine: JsEngine
}

export interface Template {
  readonly name: string
  readonly summary: string
  /** The engines it builds with (all when absent). */
  readonly engines?: readonly JsEngine[]
  /** Path (relative to the project folder) -> contents. */
  files (init: TemplateInit): Promise<Record<string, string>>
}

/** wasi:keyvalue@0.2.0-draft as this package ships it (wit/deps), copied into a counter project's wit/deps: beside cli/ in a clone, two up from dist/cli/ in the package. */
const keyvalueWitDir = [new URL('../wit/deps/wasi-keyvalue-0.2.0-draft/', import.meta.url), new URL('../../wit/deps/wasi-keyvalue-0.2.0-draft/', import.meta.url)]
  .map(u => fileURLToPath(u)).find(dir => existsSync(dir)) ?? fileURLToPath(new URL('../wit/deps/wasi-keyvalue-0.2.0-draft/', import.meta.url))

const ext = (lang: Language): string => lang
/** Not the name itself: a world and an interface of one package cannot share a name (a project named counter). */
const worldOf = (name: string): string => `${name}-world`

function projectFile (name: string, lang: Language, engine: JsEngine): string {
  return JSON.stringify({ name, world: worldOf(name), source: `src/index.${ext(lang)}`, engine, wit: 'wit' }, null, 2) + '\n'
}

function packageJson (name: string, test: string): string {
  return JSON.stringify({
    name,
    private: true,
    type: 'module',
    scripts: { build: 'wasmesh build', dev: 'wasmesh dev', test }
  }, null, 2) + '\n'
}

const gitignore = 'build/\n.wasmesh/\n'

/** The one helper every template's test uses: the `wasmesh` command on PATH (or $WASMESH), its output or its failure. */
const testHelper = `// Runs the wasmesh command (on PATH, or the one $WASMESH names) and returns what it printed.
import { execFileSync } from 'node:child_process'

export function wasmesh (...args) {
  const [command, ...pre] = (process.env.WASMESH ?? 'wasmesh').split(' ')
  return execFileSync(command, [...pre, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
}
`

/** A test helper's `dev()`: starts `wasmesh dev <args>` and resolves `{ [field]: the first match of pattern in its output, stop }`. */
function devHelper (h: { doc: string, args: readonly string[], pattern: string, field: string }): string {
  return `
/** ${h.doc} */
export async function dev () {
  const { spawn } = await import('node:child_process')
  const [command, ...pre] = (process.env.WASMESH ?? 'wasmesh').split(' ')
  const child = spawn(command, [...pre, ${h.args.map(a => `'${a}'`).join(', ')}], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  const ${h.field} = await new Promise((resolve, reject) => {
    child.stdout.on('data', chunk => {
      out += chunk
      const found = ${h.pattern}.exec(out)
      if (found) resolve(found[1])
    })
    child.once('exit', code => { reject(new Error(\`wasmesh dev exited (\${code}): \${out}\`)) })
  })
  return { ${h.field}, stop: () => new Promise(resolve => { child.once('exit', resolve); child.kill('SIGINT') }) }
}
`
}

function rpcWit (name: string): string {
  return `package local:${name};

/// What the service offers on the mesh: \`local:${name}/greeter\`.
interface greeter {
  /// A greeting for \`name\`.
  greet: func(name: string) -> string;
}

world ${worldOf(name)} {
  export greeter;
}
`
}

function rpcSource (lang: Language): string {
  const p = lang === 'ts' ? ': string' : ''
  return `// Serves local:<name>/greeter (wit/world.wit): an exported interface is an object named after it, its functions in camelCase.
export const greeter = {
  greet (name${p})${p} {
    // Standard output and error go to the node's log, as "[<component>] <line>".
    console.log(\`greeting \${name}\`)
    return \`Hello, \${name}!\`
  }
}
`
}

async function rpcFiles (name: string, lang: Language, engine: JsEngine): Promise<Record<string, string>> {
  return {
    'wasmesh.json': projectFile(name, lang, engine),
    'package.json': packageJson(name, 'wasmesh build && node --test test/'),
    '.gitignore': gitignore,
    'wit/world.wit': rpcWit(name),
    [`src/index.${ext(lang)}`]: rpcSource(lang),
    'test/wasmesh.js': testHelper,
    'test/greeter.test.js': `// The built component answers in-process, as it will on the mesh (run \`wasmesh build\` first; npm test does).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { wasmesh } from './wasmesh.js'

test('greet answers with a greeting', () => {
  assert.equal(wasmesh('call', '--component', 'build/${name}.wasm', 'local:${name}/greeter#greet("mesh")'), '"Hello, mesh!"')
})
`,
    'README.md': `# ${name}

A wasmesh RPC service: the component exports its own interface \`local:${name}/greeter\` (\`wit/world.wit\`),
implemented in \`src/index.${ext(lang)}\`${lang === 'ts' ? ' (TypeScript, compiled by `wasmesh build` before componentizing)' : ''}.

\`\`\`sh
wasmesh build        # -> build/${name}.wasm (${engine}; cached until a source, the WIT or wasmesh.json changes)
wasmesh call --component build/${name}.wasm 'local:${name}/greeter#greet("mesh")'
wasmesh dev          # a node on loopback serving it, rebuilt and swapped in on every save; prints the call line
npm test             # builds, then test/greeter.test.js
\`\`\`

To add a function, declare it in \`wit/world.wit\` and add it to the \`greeter\` object; a function the WIT declares
that the source lacks fails the build with the WIT line. \`wasmesh.json\` names the world, the source and the engine
(\`starlingmonkey\` or \`quickjs\`). Serve it on a mesh with \`wasmesh node --component build/${name}.wasm --bootstrap <addr>\`.
`
  }
}

async function callerFiles (name: string, lang: Language, engine: JsEngine): Promise<Record<string, string>> {
  const service = await rpcFiles('greeter', lang, engine)
  const files: Record<string, string> = {
    'wasmesh.json': projectFile(name, lang, engine),
    'package.json': packageJson(name, 'wasmesh build service && wasmesh build && node --test test/'),
    '.gitignore': gitignore,
    'wit/world.wit': `package local:${name};

/// What this component offers: \`run\` greets through whoever serves local:greeter/greeter.
interface app {
  run: func(name: string) -> string;
}

world ${worldOf(name)} {
  /// Served by another component, here or on any peer of the mesh (service/ is one).
  import local:greeter/greeter;
  export app;
}
`,
    'wit/deps/greeter/world.wit': rpcWit('greeter'),
    [`src/index.${ext(lang)}`]: `// Exports local:${name}/app; its import local:greeter/greeter is a call to whichever component serves it.
import { greet } from 'local:greeter/greeter'

export const app = {
  run (name${lang === 'ts' ? ': string' : ''})${lang === 'ts' ? ': string' : ''} {
    return \`\${greet(name)} (through ${name})\`
  }
}
`,
    'test/wasmesh.js': testHelper,
    'test/app.test.js': `// The component calls the service it imports: both in-process here, on different peers on a mesh.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { wasmesh } from './wasmesh.js'

test('run greets through the greeter service', () => {
  const out = wasmesh('call', '--component', 'build/${name}.wasm', '--component', 'service/build/greeter.wasm', 'local:${name}/app#run("mesh")')
  assert.equal(out, '"Hello, mesh! (through ${name})"')
})
`,
    'README.md': `# ${name}

A wasmesh component that calls another over the mesh: it exports \`local:${name}/app\` and imports
\`local:greeter/greeter\`, which \`service/\` (a project of its own) serves. The import's WIT is in \`wit/deps/greeter/\`.

\`\`\`sh
wasmesh build service && wasmesh build
wasmesh call --component build/${name}.wasm --component service/build/greeter.wasm 'local:${name}/app#run("mesh")'
npm test
\`\`\`

On a mesh the two run anywhere: \`wasmesh node --component service/build/greeter.wasm\` on one machine,
\`wasmesh node --component build/${name}.wasm --bootstrap <its address>\` on another; a call of \`run\` on the second
reaches \`greet\` on the first. \`wasmesh dev service\` in one terminal and \`wasmesh dev --bootstrap <its address>\` in
another do the same with rebuilds on save.
`
  }
  for (const [path, text] of Object.entries(service)) files[`service/${path}`] = text
  return files
}

async function counterFiles (name: string, lang: Language, engine: JsEngine): Promise<Record<string, string>> {
  const files: Record<string, string> = {
    'wasmesh.json': projectFile(name, lang, engine),
    'package.json': packageJson(name, 'wasmesh build && node --test test/'),
    '.gitignore': gitignore,
    'wit/world.wit': `package local:${name};

/// Named counters kept in a wasi:keyvalue store.
interface counter {
  /// Adds one to the counter \`name\` and returns its new value.
  increment: func(name: string) -> u64;
}

world ${worldOf(name)} {
  import wasi:keyvalue/store@0.2.0-draft;
  import wasi:keyvalue/atomics@0.2.0-draft;
  export counter;
}
`,
    [`src/index.${ext(lang)}`]: `// Exports local:${name}/counter: a named counter in the "counter" bucket of whatever serves wasi:keyvalue (the built-in provider).
import { open } from 'wasi:keyvalue/store@0.2.0-draft'
import { increment as atomicIncrement } from 'wasi:keyvalue/atomics@0.2.0-draft'

export const counter = {
  increment (name${lang === 'ts' ? ': string' : ''}) {
    const bucket = open('counter')
    try {
      // A number, not 1n: StarlingMonkey takes either for a u64, QuickJS traps on a bigint.
      return atomicIncrement(bucket, name, 1)
    } finally {
      // Drop the handle now rather than at garbage collection, so the provider's table does not grow per call.
      bucket[Symbol.dispose]?.()
    }
  }
}
`,
    'test/wasmesh.js': testHelper + devHelper({
      doc: 'Starts `wasmesh dev` (a node serving the component and the built-in key-value store) and resolves its call line\'s --bootstrap address.',
      args: ['dev'],
      pattern: '/ --bootstrap (\\S+)/',
      field: 'bootstrap'
    }),
    'test/counter.test.js': `// The counter counts, with the built-in key-value provider that wasmesh dev serves beside it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { dev, wasmesh } from './wasmesh.js'

test('increment counts up from 1', async () => {
  const node = await dev()
  try {
    const call = ['call', 'local:${name}/counter#increment("visits")', '--bootstrap', node.bootstrap]
    assert.equal(wasmesh(...call), '1')
    assert.equal(wasmesh(...call), '2')
  } finally {
    await node.stop()
  }
})
`,
    'README.md': `# ${name}

A key-value counter: the component exports \`local:${name}/counter\` (\`increment(name) -> u64\`) and imports
\`wasi:keyvalue\` (store, atomics; WIT in \`wit/deps/\`), which wasmesh's built-in key-value provider serves.

\`\`\`sh
wasmesh build
wasmesh dev          # serves the component and builtin:keyvalue (in memory) on loopback; prints the call line
npm test             # builds, then starts wasmesh dev and counts
\`\`\`

On a mesh: \`wasmesh provider kv=builtin:keyvalue --provider-config kv:path=kv.db --bootstrap <addr>\` keeps the
counts in SQLite, and \`wasmesh node --component build/${name}.wasm --bootstrap <addr>\` serves the counter.
`
  }
  for (const file of (await readdir(keyvalueWitDir)).filter(f => f.endsWith('.wit'))) {
    files[`wit/deps/wasi-keyvalue-0.2.0-draft/${file}`] = await readFile(join(keyvalueWitDir, file), 'utf8')
  }
  return files
}

async function httpFiles (name: string, lang: Language, engine: JsEngine): Promise<Record<string, string>> {
  const ts = lang === 'ts'
  const files: Record<string, string> = {
    'wasmesh.json': projectFile(name, lang, engine),
    'package.json': packageJson(name, 'wasmesh build && node --test test/'),
    '.gitignore': gitignore,
    'wit/world.wit': `package local:${name};

/// An HTTP component: a gateway (\`wasmesh dev\`, \`wasmesh node --http\`) sends it the requests.
/// ${HTTP_WASI_VERSION} is the wasi:http version StarlingMonkey's fetch event exports; \`wasmesh build\` brings the WASI WIT.
world ${worldOf(name)} {
  export wasi:http/incoming-handler@${HTTP_WASI_VERSION};
}
`,
    [`src/index.${ext(lang)}`]: `// Answers HTTP requests: StarlingMonkey turns each wasi:http request into a fetch event, answered with a Response.
addEventListener('fetch', (event${ts ? ': FetchEvent' : ''}) => {
  const url = new URL(event.request.url)
  // Standard output and error go to the node's log, as "[<component>] <line>".
  console.log(\`\${event.request.method} \${url.pathname}\`)
  event.respondWith(new Response(\`Hello from ${name}! You asked for \${url.pathname}\\n\`, {
    headers: { 'content-type': 'text/plain; charset=utf-8' }
  }))
})
`,
    'test/wasmesh.js': testHelper + devHelper({
      doc: 'Starts `wasmesh dev` with an HTTP gateway on a free loopback port and resolves the URL of its curl line.',
      args: ['dev', '--http', '127.0.0.1:0'],
      pattern: '/^curl (\\S+)$/m',
      field: 'url'
    }),
    'test/http.test.js': `// The component answers a real HTTP request through the gateway wasmesh dev opens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { dev } from './wasmesh.js'

test('GET /hi is answered with a greeting', async () => {
  const node = await dev()
  try {
    const response = await fetch(new URL('/hi', node.url))
    assert.equal(response.status, 200)
    assert.equal(await response.text(), 'Hello from ${name}! You asked for /hi\\n')
  } finally {
    await node.stop()
  }
})
`,
    'README.md': `# ${name}

A wasmesh HTTP component: it exports \`wasi:http/incoming-handler\` (\`wit/world.wit\`), written as a
StarlingMonkey fetch-event handler in \`src/index.${ext(lang)}\`${ts ? ' (TypeScript, compiled by `wasmesh build` before componentizing; `src/fetch-event.d.ts` types the event for editors)' : ''}.
The WASI WIT it needs comes with wasmesh: \`wasmesh build\` stages it beside \`wit/\`.

\`\`\`sh
wasmesh build        # -> build/${name}.wasm (cached until a source, the WIT or wasmesh.json changes)
wasmesh dev          # a node on loopback serving it and an HTTP gateway (127.0.0.1:8080, else a free port); prints the curl line
curl http://127.0.0.1:8080/hello     # in another terminal: Hello from ${name}! You asked for /hello
npm test             # builds, then starts wasmesh dev and sends a request
\`\`\`

Edit \`src/index.${ext(lang)}\` while \`wasmesh dev\` runs: it rebuilds and swaps the component in, and the gateway keeps
serving (a request during the swap is answered by the old component or the new one). \`wasmesh dev --http 127.0.0.1:9000\`
picks the gateway's address. On a mesh: \`wasmesh node --component build/${name}.wasm --bootstrap <addr>\` serves it, and
any node started with \`--http <host:port>\` is a gateway to it.

The fetch event serves one request per instance (StarlingMonkey#247), so the node gives each request a fresh one.
The engine is \`starlingmonkey\`: QuickJS has no fetch event.
`
  }
  if (ts) {
    files['src/fetch-event.d.ts'] = `// The types of StarlingMonkey's fetch event, for editors: wasmesh build strips types without checking them.
interface FetchEvent extends Event {
  readonly request: Request
  respondWith (response: Response | Promise<Response>): void
}

declare function addEventListener (type: 'fetch', listener: (event: FetchEvent) => void): void
`
  }
  return files
}

const kinds: ReadonlyArray<{ kind: string, summary: string, files: typeof rpcFiles, engines?: readonly JsEngine[] }> = [
  { kind: 'http', summary: 'an HTTP component (wasi:http/incoming-handler, a fetch-event handler); wasmesh dev opens a gateway to it', files: httpFiles, engines: ['starlingmonkey'] },
  { kind: 'rpc', summary: 'an RPC service with its own WIT interface', files: rpcFiles },
  { kind: 'caller', summary: 'a component that calls another over the mesh (the other in service/)', files: callerFiles },
  { kind: 'counter', summary: 'a key-value counter on wasi:keyvalue (the built-in provider serves it)', files: counterFiles }
]

export const templates: readonly Template[] = kinds.flatMap(k => (['js', 'ts'] as const).map(lang => ({
  name: `${k.kind}-${lang}`,
  summary: `${k.summary}, in ${lang === 'js' ? 'JavaScript' : 'TypeScript'}`,
  ...(k.engines !== undefined ? { engines: k.engines } : {}),
  files: async (init: TemplateInit) => await k.files(init.name, lang, init.engine)
})))
