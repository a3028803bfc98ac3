// The usage page: the last 30 days of images and cost per day, stacked by key, with each key's
// budget line, and a table of keys. Plain SVG, no library: the page stays small and works offline.
// A client key (#key=… or the form) shows its tenant; the admin token (#admin=…) offers every tenant.
// Credentials are kept in this tab's sessionStorage only.

const $ = (id) => document.getElementById(id)
const SVG = 'http://www.w3.org/2000/svg'
const DAYS = 30
const COLORS = ['#4a90e2', '#e2774a', '#50b37a', '#b35fc4', '#d4b23a', '#3fb6c0', '#c4485f', '#7f8c8d']
const WIDTH = 720
const HEIGHT = 220
const PAD = { left: 48, right: 8, top: 10, bottom: 24 }

function credentials() {
  const hash = new URLSearchParams(location.hash.slice(1))
  for (const kind of ['key', 'admin']) {
    const value = hash.get(kind)
    if (value) sessionStorage.setItem('imagine-edge-usage', JSON.stringify({ kind, value }))
  }
  if (location.hash) history.replaceState(null, '', location.pathname)
  const stored = sessionStorage.getItem('imagine-edge-usage')
  return stored ? JSON.parse(stored) : null
}

async function get(path, credential) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${credential.value}` } })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error((body.errors ?? []).map((e) => e.message).join('; ') || `HTTP ${res.status}`)
  return body.data
}

const days = () => {
  const out = []
  for (let i = DAYS - 1; i >= 0; i--) out.push(new Date(Date.now() - i * 86_400_000).toISOString().slice(0, 10))
  return out
}

/** Each key of the usage and budgets, in a stable order, with its colour. */
function seriesOf(usage) {
  const keys = new Map()
  for (const g of usage.groups)
    if (!keys.has(g.keyId ?? '')) keys.set(g.keyId ?? '', { keyId: g.keyId, name: g.name ?? g.keyId ?? 'bootstrap key' })
  for (const b of usage.budgets) if (b.keyId && !keys.has(b.keyId)) keys.set(b.keyId, { keyId: b.keyId, name: b.name ?? b.keyId })
  return [...keys.values()].map((k, i) => ({ ...k, color: COLORS[i % COLORS.length] }))
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

/** A daily budget line: a day budget as it is, a month budget spread over its month's days. */
function dailyBudget(budget) {
  if (budget.budgetPeriod === 'day') return budget.budgetUSD
  const [y, m] = budget.periodStart.split('-').map(Number)
  return budget.budgetUSD / new Date(Date.UTC(y, m, 0)).getUTCDate()
}

function chart(container, measure, usage, series, budgets) {
  const span = days()
  const value = (day, keyId) => usage.groups.find((g) => g.day === day && (g.keyId ?? '') === (keyId ?? ''))?.[measure] ?? 0
  const totals = span.map((d) => series.reduce((n, s) => n + value(d, s.keyId), 0))
  const lines = measure === 'costUSD' ? budgets.filter((b) => b.keyId).map((b) => ({ ...b, daily: dailyBudget(b) })) : []
  const max = Math.max(...totals, ...lines.map((l) => l.daily), measure === 'images' ? 1 : 0.01)
  const plotH = HEIGHT - PAD.top - PAD.bottom
  const slot = (WIDTH - PAD.left - PAD.right) / span.length
  const y = (v) => PAD.top + plotH - (v / max) * plotH
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'data-max': max, 'data-plot-height': plotH })
  svg.append(el('title', {}, measure === 'costUSD' ? 'Cost per day, stacked by key' : 'Images per day, stacked by key'))
  for (const tick of [0, max / 2, max]) {
    svg.append(el('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), stroke: '#8884' }))
    svg.append(
      el(
        'text',
        { x: PAD.left - 4, y: y(tick) + 4, 'text-anchor': 'end' },
        measure === 'costUSD' ? `$${tick.toFixed(2)}` : tick.toFixed(0),
      ),
    )
  }
  span.forEach((day, i) => {
    let base = 0
    for (const s of series) {
      const v = value(day, s.keyId)
      if (!v) continue
      const h = (v / max) * plotH
      svg.append(
        el('rect', {
          x: PAD.left + i * slot + 1,
          y: y(base) - h,
          width: Math.max(1, slot - 2),
          height: h,
          fill: s.color,
          'data-day': day,
          'data-key': s.keyId ?? '',
          'data-value': v,
        }),
      )
      base += v
    }
    if (i % 5 === 0) svg.append(el('text', { x: PAD.left + i * slot, y: HEIGHT - 6 }, day.slice(5)))
  })
  for (const line of lines) {
    const s = series.find((x) => x.keyId === line.keyId)
    svg.append(
      el('line', {
        class: 'budget',
        x1: PAD.left,
        x2: WIDTH - PAD.right,
        y1: y(line.daily),
        y2: y(line.daily),
        stroke: s?.color ?? '#888',
        'data-budget-key': line.keyId,
        'data-value': line.daily,
      }),
    )
    svg.append(el('text', { x: WIDTH - PAD.right, y: y(line.daily) - 3, 'text-anchor': 'end' }, `${s?.name ?? line.keyId} budget`))
  }
  container.replaceChildren(svg)
}

function table(usage, series) {
  const rows = series.map((s) => {
    const mine = usage.groups.filter((g) => (g.keyId ?? '') === (s.keyId ?? ''))
    const budget = usage.budgets.find((b) => b.keyId === s.keyId)
    const tr = document.createElement('tr')
    tr.dataset.key = s.keyId ?? ''
    const cells = [
      `${s.name}${s.keyId ? ` (${s.keyId})` : ''}`,
      String(mine.reduce((n, g) => n + g.images, 0)),
      `$${mine.reduce((n, g) => n + g.costUSD, 0).toFixed(2)}`,
      budget ? `$${budget.budgetUSD.toFixed(2)} / ${budget.budgetPeriod}` : '—',
      budget ? `$${budget.spentUSD.toFixed(2)}` : '—',
      budget ? `${Math.round(budget.used * 100)} %` : '—',
    ]
    for (const text of cells) {
      const td = document.createElement('td')
      td.textContent = text
      tr.append(td)
    }
    return tr
  })
  $('key-rows').replaceChildren(...rows)
}

async function show(credential, tenant) {
  const span = days()
  const query = `groupBy=day,key&from=${span[0]}&to=${span.at(-1)}`
  const path = credential.kind === 'admin' ? `/admin/tenants/${tenant}/usage?${query}` : `/v1/usage?${query}`
  $('status').textContent = 'Loading…'
  const usage = await get(path, credential)
  const series = seriesOf(usage)
  chart($('cost-chart'), 'costUSD', usage, series, usage.budgets)
  chart($('images-chart'), 'images', usage, series, usage.budgets)
  $('legend').replaceChildren(
    ...series.map((s) => {
      const li = document.createElement('li')
      const swatch = document.createElement('span')
      swatch.style.background = s.color
      li.append(swatch, s.name)
      li.dataset.key = s.keyId ?? ''
      return li
    }),
  )
  table(usage, series)
  $('charts').hidden = false
  $('keys').hidden = false
  $('status').textContent = `${usage.tenant}: ${usage.images} images, $${usage.costUSD.toFixed(2)} in 30 days`
}

async function start(credential, orAdmin = false) {
  $('error').hidden = true
  try {
    if (credential.kind === 'admin') {
      const keys = await get('/admin/keys', credential)
      const tenants = [...new Set(keys.map((k) => k.tenant))].sort()
      $('tenant').replaceChildren(...tenants.map((t) => new Option(t, t)))
      $('tenant-field').hidden = false
      $('auth-fieldset').hidden = true
      if (tenants.length) await show(credential, tenants[0])
    } else {
      $('auth-fieldset').hidden = true
      await show(credential)
    }
  } catch (error) {
    // The form's value may be the admin token rather than a key.
    if (orAdmin) return start({ kind: 'admin', value: credential.value })
    $('auth-fieldset').hidden = false
    $('error').textContent = error.message
    $('error').hidden = false
    $('status').textContent = ''
  }
}

$('tenant').addEventListener('change', () => show(credentials(), $('tenant').value).catch((e) => ($('error').textContent = e.message)))
$('auth').addEventListener('submit', (event) => {
  event.preventDefault()
  // Tried as a key first, then as the admin token.
  const credential = { kind: 'key', value: $('credential').value.trim() }
  void start(credential, true).then(() => {
    const kind = $('tenant-field').hidden ? 'key' : 'admin'
    sessionStorage.setItem('imagine-edge-usage', JSON.stringify({ kind, value: credential.value }))
  })
})

const credential = credentials()
if (credential) void start(credential)
else $('auth-fieldset').hidden = false
