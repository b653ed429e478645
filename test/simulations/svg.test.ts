import { describe, expect, it } from 'vitest'
import { lineChart } from '../../simulations/svg.ts'
import { allElements, parseXml } from './xml.ts'

describe('SVG charts', () => {
  it('are well-formed SVG documents with one group per series and the event markers', () => {
    const svg = lineChart({
      title: 'Latency <p99> & "friends"',
      xLabel: 'ms',
      yLabel: 'fraction',
      series: [
        { name: 'a & b', points: [[0, 0], [10, 0.5], [20, 1]] },
        { name: 'dots', points: [[5, 0.2]], style: 'dots' }
      ],
      markers: [{ x: 7, label: 'crash <3>' }]
    })
    const root = parseXml(svg)
    expect(root.name).toBe('svg')
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg')
    const series = allElements(root).filter(e => e.name === 'g' && e.attrs.class === 'series')
    expect(series.map(s => s.attrs['data-name'])).toEqual(['a &amp; b', 'dots'])
    expect(series[0].children[0].name).toBe('polyline')
    expect(series[0].children[0].attrs.points.split(' ')).toHaveLength(3)
    expect(series[1].children.map(c => c.name)).toEqual(['circle'])
    const markers = allElements(root).filter(e => e.name === 'g' && e.attrs.class === 'markers')
    expect(markers).toHaveLength(1)
    expect(allElements(root).find(e => e.name === 'title')?.text).toBe('Latency &lt;p99&gt; &amp; &quot;friends&quot;')
  })

  it('stagger the labels of events close in time so none overlaps, and each line reaches its label', () => {
    const labels = ['crash node 1', 'join node 10', 'restart node 1', 'leave node 9']
    const root = parseXml(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [], xMin: 0, xMax: 100, markers: labels.map((label, i) => ({ x: 10 + i, label })) }))
    const g = allElements(root).filter(e => e.attrs.class === 'markers')[0]
    const texts = g.children.filter(e => e.name === 'text')
    const lines = g.children.filter(e => e.name === 'line')
    // three rows, then the fourth label only on hover (its line's title)
    expect(texts.map(t => t.text)).toEqual(labels.slice(0, 3))
    expect(new Set(texts.map(t => t.attrs.y)).size).toBe(3)
    expect(lines.map(l => l.children.find(c => c.name === 'title')?.text)).toEqual(labels)
    texts.forEach((t, i) => { expect(Number(lines[i].attrs.y1)).toBeGreaterThan(Number(t.attrs.y)) })
    // far apart, they share the first row
    const spread = parseXml(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [], xMin: 0, xMax: 100, markers: labels.map((label, i) => ({ x: i * 30, label })) }))
    expect(new Set(allElements(spread).filter(e => e.name === 'text' && labels.includes(e.text)).map(t => t.attrs.y)).size).toBe(1)
  })

  it('mark where the data was cut off and print notes under the legend', () => {
    const root = parseXml(lineChart({
      title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[0, 1], [4, 2]] }], xMin: 0, xMax: 10,
      cut: { x: 4.2, label: 'interrupted at 4.2 s' }, notes: ['node N: <the> node N']
    }))
    const cut = allElements(root).filter(e => e.attrs.class === 'cut')
    expect(cut).toHaveLength(1)
    expect(cut[0].children.map(c => c.name)).toEqual(['rect', 'line', 'text'])
    expect(cut[0].children[2].text).toBe('interrupted at 4.2 s')
    expect(allElements(root).filter(e => e.attrs.class === 'notes')[0].children.map(c => c.text)).toEqual(['node N: &lt;the&gt; node N'])
    // a run that reached the end of the axis has no cut
    const whole = parseXml(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [], xMin: 0, xMax: 10, cut: { x: 10, label: 'end' } }))
    expect(allElements(whole).filter(e => e.attrs.class === 'cut')).toHaveLength(0)
  })

  it('draw an empty chart when nothing was measured', () => {
    const root = parseXml(lineChart({ title: 'nothing', xLabel: 'x', yLabel: 'y', series: [{ name: 'none', points: [] }] }))
    expect(allElements(root).filter(e => e.attrs.class === 'series')).toHaveLength(1)
  })

  it('the checker refuses what a browser would refuse', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow(/closes/)
    expect(() => parseXml('<svg>a & b</svg>')).toThrow(/bare &/)
    expect(() => parseXml('<svg a=1></svg>')).toThrow(/bad attributes/)
    expect(() => parseXml('<svg>')).toThrow(/never closed/)
  })
})
