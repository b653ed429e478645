// A small SVG chart writer: line and dot series on linear axes, with labelled vertical event markers, a cut-off mark and notes; standalone files any browser opens.

export interface Series {
  readonly name: string
  readonly points: readonly (readonly [number, number])[]
  /** `line` joins points; `dots` draws each point alone. Default line. */
  readonly style?: 'line' | 'dots'
}

export interface Marker {
  readonly x: number
  readonly label: string
}

/** Where the data stops before the x axis does (an interrupted run): a red line, and the rest greyed out. */
export interface Cut {
  readonly x: number
  readonly label: string
}

export interface ChartSpec {
  readonly title: string
  readonly xLabel: string
  /** One quantity in one unit: a second quantity gets a chart of its own. */
  readonly yLabel: string
  readonly series: readonly Series[]
  readonly markers?: readonly Marker[]
  readonly cut?: Cut
  /** Lines under the legend that explain the chart (what a marker's node number is, ...). */
  readonly notes?: readonly string[]
  /** Fixed axis ranges; default: from the data (y from 0). */
  readonly yMax?: number
  readonly yMin?: number
  readonly xMin?: number
  readonly xMax?: number
}

const WIDTH = 720
const HEIGHT = 360
const M = { left: 64, right: 16, top: 36, bottom: 64 }
/** Marker labels are 9 px sans-serif: about this wide per character. */
const markerCharPx = 5.2
/** Rows of marker labels above the plot before the rest only show on hover (their line's title). */
const maxMarkerRows = 3
const markerRowPx = 11
const noteLinePx = 14

/**
 * The row of each marker label (or -1: no room): the lowest row where it does not overlap the label to its
 * left, so events close in time stay readable.
 */
function labelRows (xs: readonly number[], labels: readonly string[]): number[] {
  const ends: number[] = []
  return xs.map((x, i) => {
    const half = (labels[i].length * markerCharPx) / 2
    for (let row = 0; row < maxMarkerRows; row++) {
      if ((ends[row] ?? Number.NEGATIVE_INFINITY) < x - half - 3) {
        ends[row] = x + half
        return row
      }
    }
    return -1
  })
}
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf']

export function escapeXml (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

/** 1, 2 or 5 times a power of ten, so that about `n` ticks cover the range. */
function ticks (min: number, max: number, n = 6): number[] {
  const span = max - min
  if (!(span > 0)) return [min]
  const raw = span / n
  const pow = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map(m => m * pow).find(s => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

function fmt (v: number): string {
  if (Math.abs(v) >= 10_000) return `${Math.round(v / 1000)}k`
  if (Number.isInteger(v)) return String(v)
  return String(Number(v.toPrecision(3)))
}

/** An SVG document (with its XML declaration); each series is a `<g class="series" data-name="...">`. */
export function lineChart (spec: ChartSpec): string {
  const all = spec.series.flatMap(s => s.points)
  const xs = all.map(p => p[0]).concat((spec.markers ?? []).map(m => m.x))
  const ys = all.map(p => p[1])
  const xMin = spec.xMin ?? (xs.length > 0 ? Math.min(...xs) : 0)
  let xMax = spec.xMax ?? (xs.length > 0 ? Math.max(...xs) : 1)
  if (xMax <= xMin) xMax = xMin + 1
  const yMin = spec.yMin ?? 0
  let yMax = spec.yMax ?? (ys.length > 0 ? Math.max(...ys) : 1)
  if (yMax <= yMin) yMax = yMin + 1
  const pw = WIDTH - M.left - M.right
  const ph = HEIGHT - M.top - M.bottom
  const markers = [...(spec.markers ?? [])].sort((a, b) => a.x - b.x)
  const X0 = (x: number): number => M.left + ((x - xMin) / (xMax - xMin)) * pw
  const rows = labelRows(markers.map(m => X0(m.x)), markers.map(m => m.label))
  // the plot moves down by the extra rows of marker labels; notes add lines at the bottom
  const top = M.top + markerRowPx * Math.max(0, ...rows)
  const notes = spec.notes ?? []
  const height = HEIGHT + (top - M.top) + noteLinePx * notes.length
  const X = X0
  const Y = (y: number): number => top + ph - ((y - yMin) / (yMax - yMin)) * ph
  const r = (v: number): string => v.toFixed(1)

  const out: string[] = []
  out.push('<?xml version="1.0" encoding="UTF-8"?>')
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`)
  out.push(`<title>${escapeXml(spec.title)}</title>`)
  out.push(`<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`)
  out.push(`<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(spec.title)}</text>`)
  out.push('<g class="axes" stroke="#999999" stroke-width="1">')
  for (const t of ticks(yMin, yMax)) out.push(`<line x1="${M.left}" y1="${r(Y(t))}" x2="${WIDTH - M.right}" y2="${r(Y(t))}" stroke="#eeeeee"/>`)
  out.push(`<line x1="${M.left}" y1="${top + ph}" x2="${WIDTH - M.right}" y2="${top + ph}"/>`)
  out.push(`<line x1="${M.left}" y1="${top}" x2="${M.left}" y2="${top + ph}"/>`)
  out.push('</g>')
  out.push('<g class="labels" fill="#333333">')
  for (const t of ticks(xMin, xMax)) out.push(`<text x="${r(X(t))}" y="${top + ph + 14}" text-anchor="middle">${fmt(t)}</text>`)
  for (const t of ticks(yMin, yMax)) out.push(`<text x="${M.left - 6}" y="${r(Y(t) + 4)}" text-anchor="end">${fmt(t)}</text>`)
  out.push(`<text x="${M.left + pw / 2}" y="${top + ph + 32}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`)
  out.push(`<text x="14" y="${top + ph / 2}" text-anchor="middle" transform="rotate(-90 14 ${top + ph / 2})">${escapeXml(spec.yLabel)}</text>`)
  out.push('</g>')

  if (spec.cut !== undefined && spec.cut.x < xMax) {
    const x = X(Math.max(xMin, spec.cut.x))
    out.push('<g class="cut">')
    out.push(`<rect x="${r(x)}" y="${top}" width="${r(M.left + pw - x)}" height="${ph}" fill="#f2f2f2"/>`)
    out.push(`<line x1="${r(x)}" y1="${top}" x2="${r(x)}" y2="${top + ph}" stroke="#d62728" stroke-width="1.5"/>`)
    out.push(`<text x="${r(x + 4)}" y="${top + 14}" fill="#d62728">${escapeXml(spec.cut.label)}</text>`)
    out.push('</g>')
  }

  if (markers.length > 0) {
    out.push('<g class="markers" stroke="#888888" stroke-dasharray="4 3">')
    markers.forEach((m, i) => {
      const x = r(X(m.x))
      // the line reaches up to its label's row, so a staggered label says which line it belongs to
      const y1 = rows[i] > 0 ? top - 1 - markerRowPx * rows[i] : top
      out.push(`<line x1="${x}" y1="${y1}" x2="${x}" y2="${top + ph}"><title>${escapeXml(m.label)}</title></line>`)
      // a label with no room left shows when the line is hovered
      if (rows[i] >= 0) out.push(`<text x="${x}" y="${top - 3 - markerRowPx * rows[i]}" text-anchor="middle" stroke="none" fill="#555555" font-size="9">${escapeXml(m.label)}</text>`)
    })
    out.push('</g>')
  }

  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`)
    const pts = s.points.filter(p => Number.isFinite(p[0]) && Number.isFinite(p[1]))
    if (s.style === 'dots') {
      for (const [x, y] of pts) out.push(`<circle cx="${r(X(x))}" cy="${r(Y(Math.min(y, yMax)))}" r="2.5" fill="${color}"/>`)
    } else if (pts.length > 0) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map(([x, y]) => `${r(X(x))},${r(Y(Math.min(y, yMax)))}`).join(' ')}"/>`)
    }
    out.push('</g>')
  })
  // legend
  out.push('<g class="legend">')
  const legendY = top + ph + 52
  // each entry as wide as its name (11 px text: about 6.2 px a character), at least 170 px
  let legendX = M.left + 8
  spec.series.forEach((s, i) => {
    const x = legendX
    legendX += Math.max(170, 14 + s.name.length * 6.2 + 24)
    const y = legendY
    out.push(`<rect x="${x}" y="${y - 8}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`)
    out.push(`<text x="${x + 14}" y="${y + 1}">${escapeXml(s.name)}</text>`)
  })
  out.push('</g>')
  if (notes.length > 0) {
    out.push('<g class="notes" fill="#555555" font-size="10">')
    notes.forEach((n, i) => { out.push(`<text x="${M.left}" y="${legendY + noteLinePx * (i + 1)}">${escapeXml(n)}</text>`) })
    out.push('</g>')
  }
  out.push('</svg>')
  return out.join('\n') + '\n'
}
