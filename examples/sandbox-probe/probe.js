// Exports wasmesh:examples/probe: each function attempts one escape from the sandbox and reports the outcome.
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12'
import { getEnvironment } from 'wasi:cli/environment@0.2.12'
import { instanceNetwork } from 'wasi:sockets/instance-network@0.2.12'
import { createTcpSocket } from 'wasi:sockets/tcp-create-socket@0.2.12'
import { resolveAddresses } from 'wasi:sockets/ip-name-lookup@0.2.12'
import { getStdout } from 'wasi:cli/stdout@0.2.12'
import { getStderr } from 'wasi:cli/stderr@0.2.12'

// A failed import call arrives as a thrown value: the WIT error payload (an error-code string), or an Error.
function reason(e) {
  if (typeof e === 'string') return e
  if (e != null && typeof e === 'object') {
    if (e.payload !== undefined) return reason(e.payload)
    if (typeof e.message === 'string') return e.message
  }
  return String(e)
}

// Runs one step; a refusal becomes err("<step>: <reason>") (a thrown value is the err case of the export's result).
function step(name, fn) {
  try {
    return fn()
  } catch (e) {
    throw `${name}: ${reason(e)}`
  }
}

function preopens() {
  return step('get-directories', () => getDirectories())
}

function describePreopens(list) {
  return `[${list.map(([, path]) => JSON.stringify(path)).join(', ')}]`
}

/** The preopen covering an absolute path, and the path relative to it. */
function locate(path) {
  const list = preopens()
  for (const [descriptor, root] of list) {
    const base = root.endsWith('/') ? root : `${root}/`
    if (root === '/' || path === root || path.startsWith(base)) {
      const rel = root === '/' ? path.slice(1) : path.slice(base.length)
      return { descriptor, rel: rel === '' ? '.' : rel }
    }
  }
  throw `preopens: no preopened directory covers ${path} (preopens: ${describePreopens(list)})`
}

function dispose(resource) {
  resource?.[Symbol.dispose]?.()
}

// A would-block error means "not yet": wait on the resource's pollable and try again.
// The pollable is a child of the resource and must be dropped before it.
function untilReady(resource, name, fn) {
  const pollable = resource.subscribe()
  try {
    for (;;) {
      try {
        return fn()
      } catch (e) {
        if (reason(e) !== 'would-block') throw `${name}: ${reason(e)}`
        pollable.block()
      }
    }
  } finally {
    dispose(pollable)
  }
}

function readNames(descriptor) {
  let entries
  try {
    entries = descriptor.readDirectory()
  } catch {
    const dir = step('open-at', () => descriptor.openAt({}, '.', { directory: true }, { read: true }))
    try {
      return readNames(dir)
    } finally {
      dispose(dir)
    }
  }
  try {
    const names = []
    for (;;) {
      const entry = step('read-directory-entry', () => entries.readDirectoryEntry())
      if (entry == null) return names
      names.push(entry.name)
    }
  } finally {
    dispose(entries)
  }
}

function parseIpv4(ip) {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some(p => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw `address: "${ip}" is not a dotted IPv4 address`
  }
  return parts
}

function formatAddress(address) {
  return address.tag === 'ipv4' ? address.val.join('.') : address.val.map(n => n.toString(16)).join(':')
}

export const probe = {
  readPasswd() {
    const { descriptor, rel } = locate('/etc/passwd')
    const file = step('open-at', () => descriptor.openAt({}, rel, {}, { read: true }))
    try {
      const [bytes] = step('read', () => file.read(256, 0))
      // Latin-1 is enough to show the first line; QuickJS has no TextDecoder.
      const text = String.fromCharCode(...bytes)
      return `read ${bytes.length} bytes: ${text.split('\n')[0]}`
    } finally {
      dispose(file)
    }
  },

  listRoot() {
    const list = preopens()
    const root = list.find(([, path]) => path === '/')
    if (root == null) throw `preopens: no preopened directory "/" (preopens: ${describePreopens(list)})`
    const [descriptor] = root
    let names
    try {
      names = readNames(descriptor)
    } catch (first) {
      // preview2-shim 0.26 cannot list a preopen of the host's own "/" (neither the preopen nor "."
      // opened from it); entries that can be stat-ed still prove the directory is reachable.
      names = ['bin', 'etc', 'home', 'proc', 'root', 'tmp', 'usr', 'var'].filter(name => {
        try {
          descriptor.statAt({}, name)
          return true
        } catch {
          return false
        }
      })
      if (names.length === 0) throw first
    }
    return `${names.length} entries: ${names.sort().join(', ')}`
  },

  readEnv() {
    const vars = step('get-environment', () => getEnvironment())
    if (vars.length === 0) throw 'get-environment: the environment is empty'
    return `${vars.length} variables: ${vars.map(([name]) => name).sort().join(', ')}`
  },

  connectTcp(ip, port) {
    const address = parseIpv4(ip)
    const network = step('instance-network', () => instanceNetwork())
    const socket = step('create-tcp-socket', () => createTcpSocket('ipv4'))
    try {
      step('start-connect', () => socket.startConnect(network, { tag: 'ipv4', val: { port, address } }))
      const [input, output] = untilReady(socket, 'finish-connect', () => socket.finishConnect())
      dispose(input)
      dispose(output)
      return `connected to ${ip}:${port}`
    } finally {
      dispose(socket)
      dispose(network)
    }
  },

  print(out, err) {
    const bytes = text => new Uint8Array([...`${text}\n`].map(c => c.charCodeAt(0) & 0xff))
    step('stdout', () => getStdout().blockingWriteAndFlush(bytes(out)))
    step('stderr', () => getStderr().blockingWriteAndFlush(bytes(err)))
  },

  writeFile(path, text) {
    const { descriptor, rel } = locate(path)
    const file = step('open-at', () => descriptor.openAt({}, rel, { create: true, truncate: true }, { write: true }))
    try {
      const bytes = new Uint8Array([...text].map(c => c.charCodeAt(0) & 0xff))
      const written = step('write', () => file.write(bytes, 0))
      return `wrote ${written} bytes`
    } finally {
      dispose(file)
    }
  },

  resolveName(name) {
    const network = step('instance-network', () => instanceNetwork())
    const stream = step('resolve-addresses', () => resolveAddresses(network, name))
    try {
      const found = []
      for (;;) {
        const address = untilReady(stream, 'resolve-next-address', () => stream.resolveNextAddress())
        if (address == null) break
        found.push(formatAddress(address))
      }
      if (found.length === 0) throw `resolve-next-address: no addresses for ${name}`
      return `${name} -> ${found.join(', ')}`
    } finally {
      dispose(stream)
      dispose(network)
    }
  }
}
