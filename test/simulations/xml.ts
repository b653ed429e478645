// A tiny well-formedness check of XML documents (the charts): matched tags, quoted attributes, escaped text.

export interface XmlElement {
  readonly name: string
  readonly attrs: Record<string, string>
  readonly children: XmlElement[]
  text: string
}

const NAME = '[A-Za-z_][\\w.:-]*'
const ATTR = new RegExp(`\\s+(${NAME})\\s*=\\s*("[^"<]*"|'[^'<]*')`, 'gy')

/** Parses the document or throws saying where it is not well formed. */
export function parseXml (doc: string): XmlElement {
  let i = 0
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' }
  const stack: XmlElement[] = [root]
  const fail = (why: string): never => { throw new Error(`not well-formed XML at ${i}: ${why}: ${JSON.stringify(doc.slice(i, i + 40))}`) }
  const checkText = (text: string): void => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(text)) fail('a bare &')
  }
  while (i < doc.length) {
    const lt = doc.indexOf('<', i)
    const text = doc.slice(i, lt === -1 ? doc.length : lt)
    checkText(text)
    stack[stack.length - 1].text += text
    if (lt === -1) break
    i = lt
    if (doc.startsWith('<?', i)) { const end = doc.indexOf('?>', i); if (end === -1) fail('unclosed declaration'); i = end + 2; continue }
    if (doc.startsWith('<!--', i)) { const end = doc.indexOf('-->', i); if (end === -1) fail('unclosed comment'); i = end + 3; continue }
    if (doc.startsWith('</', i)) {
      const m = new RegExp(`</(${NAME})\\s*>`, 'y')
      m.lastIndex = i
      const r = m.exec(doc) ?? fail('bad closing tag')
      const open = stack.pop()
      if (open === undefined || open.name !== r[1]) fail(`</${r[1]}> closes <${open?.name ?? 'nothing'}>`)
      i = m.lastIndex
      continue
    }
    const m = new RegExp(`<(${NAME})`, 'y')
    m.lastIndex = i
    const r = m.exec(doc) ?? fail('bad tag')
    const el: XmlElement = { name: r[1], attrs: {}, children: [], text: '' }
    i = m.lastIndex
    for (;;) {
      ATTR.lastIndex = i
      const a = ATTR.exec(doc)
      if (a === null) break
      if (Object.hasOwn(el.attrs, a[1])) fail(`attribute ${a[1]} twice`)
      checkText(a[2])
      el.attrs[a[1]] = a[2].slice(1, -1)
      i = ATTR.lastIndex
    }
    const close = /\s*(\/?)>/y
    close.lastIndex = i
    const c = close.exec(doc) ?? fail(`bad attributes in <${el.name}>`)
    i = close.lastIndex
    stack[stack.length - 1].children.push(el)
    if (c[1] !== '/') stack.push(el)
  }
  if (stack.length !== 1) fail(`<${stack[stack.length - 1].name}> is never closed`)
  const elements = root.children
  if (elements.length !== 1) throw new Error(`an XML document has one root element, found ${elements.length}`)
  return elements[0]
}

/** Every element below (and including) `el`, depth first. */
export function allElements (el: XmlElement): XmlElement[] {
  return [el, ...el.children.flatMap(allElements)]
}
