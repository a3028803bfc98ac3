/**
 * `npm run bench:tenant [-- --tasks N]`: what a tenant's history costs. Creates and finishes N
 * tasks (two results each, ~1,000-character prompts) through the whole lifecycle, the emulator
 * uploading each image to the gateway and sending Runware's webhook for it; prints the fullest
 * shard object's bytes per image and the images one tenant can retain under the 10 GB object cap
 * (GET /admin/tenants/{tenant}/storage); and compares create and poll throughput at the start
 * (an empty tenant) and at the end (with that history), in one gateway where no reconciliation
 * falls due and in one where alarms and the reconcile queue run throughout (the 10 s minimum).
 */
process.env.WRANGLER_LOG ??= 'error'

import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { bootstrapTenant } from '../src/access/api-keys.ts'
import { UrlSigner } from '../src/images/url-signer.ts'
import { CLIENT_KEY, SECRETS } from './fixtures.ts'
import { table } from './report.ts'
import { AUTH, RESULTS_PER_TASK, createHeld, emulatorMode, fill, finishQuietly, seedFinished, verify } from './tenant-lifecycle.ts'
import { LABELS, METHOD, ROUTES, measure, ratios, type Phase, type Route } from './tenant-measure.ts'
import { ROOT, bundle, startEmulatorProcess, startWorker, type EmulatorProcess, type RunningWorker } from './workers.ts'

const REQUIRED = { bytesPerImage: 200, retainableImages: 50_000_000, ratio: 0.9 } as const
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef0123456789'
/** Tasks the poll runs read: held processing by the emulator, and finished before the first run. */
const HELD_TASKS = 32
const SEEDED_TASKS = 64
const FILL_CONCURRENCY = 48
const VERIFY_SAMPLE = 200
const FINISHED_POLL_SAMPLE = 1000
const VARIANTS = [
  { name: 'history', reconcileAfterSeconds: 86_400, note: 'no reconciliation falls due' },
  { name: 'alarms', reconcileAfterSeconds: 10, note: 'RECONCILE_AFTER_SECONDS 10: shard alarms and the reconcile queue run' },
] as const

const started = Date.now()
const say = (line: string) => console.log(`[tenant ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`)

function taskCount(): number {
  const at = process.argv.indexOf('--tasks')
  const n = at === -1 ? 10_000 : Number(process.argv[at + 1])
  if (!Number.isInteger(n) || n < 1) throw new Error('--tasks needs a whole number of tasks')
  return n
}

interface Storage {
  tenant: string
  shards: { shard: number; bytes: number; tasks: number; images: number }[]
  images: number
  fullestShard: number | null
  bytesPerImage: number | null
  retainableImages: number | null
}

async function storage(gateway: RunningWorker, tenant: string): Promise<Storage> {
  const res = await fetch(`${gateway.url}/admin/tenants/${tenant}/storage`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  if (!res.ok) throw new Error(`storage report: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { data: Storage }).data
}

/** The storage report once the shards hold `expected` images (webhooks may still be landing), or after a minute. */
async function settledStorage(gateway: RunningWorker, tenant: string, expected: number): Promise<Storage> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const report = await storage(gateway, tenant)
    if (report.images >= expected || Date.now() > deadline) return report
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** How many of `uuids` read back as no longer processing. */
async function finishedCount(gateway: RunningWorker, uuids: readonly string[]): Promise<number> {
  const states = await Promise.all(
    uuids.map(async (uuid) => {
      const res = await fetch(`${gateway.url}/v1/tasks/${uuid}`, { headers: AUTH })
      return ((await res.json()) as { data?: { status: string } }).data?.status
    }),
  )
  return states.filter((s) => s !== undefined && s !== 'processing').length
}

async function emulatorRequests(emulator: EmulatorProcess): Promise<number> {
  return ((await (await fetch(`${emulator.url}/__emulator/stats`)).json()) as { requests: number }).requests
}

/** Up to `n` of `items`, picked at random. */
const sample = <T>(items: readonly T[], n: number): T[] =>
  items
    .map((item) => ({ item, key: Math.random() }))
    .sort((a, b) => a.key - b.key)
    .slice(0, n)
    .map((x) => x.item)

/** A measured phase, with how many of its creates reconciliation finished and how many extra calls Runware saw. */
async function measured(gateway: RunningWorker, emulator: EmulatorProcess, targets: Parameters<typeof measure>[1]) {
  const before = await emulatorRequests(emulator)
  const phase = await measure(gateway, targets, say)
  const upstreamBeyondCreates = (await emulatorRequests(emulator)) - before - phase.routes.create.runs.reduce((n, r) => n + r.requests, 0)
  // The first creates are the oldest: due RECONCILE_AFTER_SECONDS after they were made.
  const reconciled = await finishedCount(gateway, phase.created.slice(0, 100))
  say(
    `  upstream calls besides creates: ${Math.max(0, upstreamBeyondCreates)}; first 100 creates finished by reconciliation: ${reconciled}`,
  )
  return { ...phase, upstreamBeyondCreates, reconciled }
}

async function scenario(dir: string, emulator: EmulatorProcess, variant: (typeof VARIANTS)[number], tasks: number, image: Uint8Array) {
  say(`${variant.name}: a fresh gateway (${variant.note})`)
  const gateway = await startWorker('gateway', dir, {
    bindings: {
      ...SECRETS,
      RUNWARE_API_URL: `${emulator.url}/v1`,
      // Runware PUTs each image to the gateway's own signed upload route.
      UPLOAD_MODE: 'worker',
      RECONCILE_AFTER_SECONDS: String(variant.reconcileAfterSeconds),
      ADMIN_TOKEN,
    },
  })
  try {
    const tenant = await bootstrapTenant(CLIENT_KEY)
    const signer = new UrlSigner(SECRETS.SIGNING_SECRET, gateway.url)
    await emulatorMode(emulator, 'quiet')
    const held = await createHeld(gateway, HELD_TASKS)
    const seeded = await seedFinished(gateway, signer, tenant, SEEDED_TASKS, image)
    say(`${variant.name}: start (an empty tenant but for ${HELD_TASKS} processing and ${SEEDED_TASKS} finished tasks to poll)`)
    const start = await measured(gateway, emulator, { processing: held, finished: seeded })
    say(`${variant.name}: finishing the ${start.created.length} tasks the create runs made (image into R2, then webhooks)`)
    await finishQuietly(gateway, signer, tenant, start.created, image)

    say(`${variant.name}: filling ${tasks} tasks × ${RESULTS_PER_TASK} results through the emulator (uploads and webhooks)`)
    await emulatorMode(emulator, 'lifecycle')
    const fillStarted = Date.now()
    const filled = await fill(gateway, emulator, tasks, FILL_CONCURRENCY, say)
    const fillSeconds = (Date.now() - fillStarted) / 1000
    const expectedImages = RESULTS_PER_TASK * (SEEDED_TASKS + start.created.length + tasks)
    const report = await settledStorage(gateway, tenant, expectedImages)
    const sampleFailures = await verify(gateway, sample(filled, VERIFY_SAMPLE))
    say(
      `${variant.name}: filled in ${fillSeconds.toFixed(0)} s (${(tasks / fillSeconds).toFixed(0)} tasks/s); ` +
        `${report.images} images stored (expected ${expectedImages}); ${VERIFY_SAMPLE - sampleFailures.length}/${VERIFY_SAMPLE} sampled tasks succeeded with ${RESULTS_PER_TASK} images`,
    )
    for (const s of report.shards)
      say(
        `  shard ${s.shard}: ${s.bytes} bytes, ${s.tasks} tasks, ${s.images} images (${(s.bytes / Math.max(1, s.images)).toFixed(0)} B/image)`,
      )
    for (const failure of sampleFailures.slice(0, 5)) say(`  not succeeded: ${failure}`)

    await emulatorMode(emulator, 'quiet')
    say(`${variant.name}: end (with that history)`)
    const finishedPool = sample([...seeded, ...start.created, ...filled], FINISHED_POLL_SAMPLE)
    const end = await measured(gateway, emulator, { processing: held, finished: finishedPool })
    return { variant, fillSeconds, expectedImages, storage: report, sampleFailures, start, end, ratios: ratios(start, end) }
  } finally {
    await gateway.dispose()
  }
}

type Outcome = Awaited<ReturnType<typeof scenario>>

function phaseTable(o: Outcome): string {
  const cell = (p: Phase, route: Route) => `${p.routes[route].rps.toFixed(0)}`
  const lat = (p: Phase, route: Route) => `${p.routes[route].p50}/${p.routes[route].p99}`
  return table(
    ['route', 'start req/s', 'end req/s', 'end/start', 'start p50/p99 ms', 'end p50/p99 ms', 'non-2xx'],
    ROUTES.map((route) => [
      LABELS[route],
      cell(o.start, route),
      cell(o.end, route),
      o.ratios[route].toFixed(2),
      lat(o.start, route),
      lat(o.end, route),
      o.start.routes[route].failed + o.end.routes[route].failed,
    ]),
  )
}

const ratioText = (o: Outcome) => ROUTES.map((route) => `${LABELS[route]} ${o.ratios[route].toFixed(2)}`).join(' · ')

async function main() {
  const tasks = taskCount()
  say('bundling the gateway with wrangler deploy --dry-run')
  const dir = bundle('gateway')
  const image = new Uint8Array(
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 40, g: 80, b: 160 } } })
      .webp()
      .toBuffer(),
  )
  const emulator = await startEmulatorProcess(SECRETS.RUNWARE_API_KEY)
  const outcomes: Outcome[] = []
  try {
    for (const variant of VARIANTS) outcomes.push(await scenario(dir, emulator, variant, tasks, image))
  } finally {
    await emulator.stop()
  }
  const [history, alarms] = outcomes
  if (!history || !alarms) throw new Error('a variant did not run')

  const failing: string[] = []
  const { bytesPerImage, retainableImages } = history.storage
  if (bytesPerImage === null || bytesPerImage > REQUIRED.bytesPerImage)
    failing.push(`the fullest shard holds ${bytesPerImage} B/image (needs ≤ ${REQUIRED.bytesPerImage})`)
  if (retainableImages === null || retainableImages < REQUIRED.retainableImages)
    failing.push(`one tenant retains ${retainableImages} images (needs ≥ ${REQUIRED.retainableImages})`)
  for (const o of outcomes) {
    for (const route of ROUTES)
      if (o.ratios[route] < REQUIRED.ratio)
        failing.push(`${o.variant.name}: ${LABELS[route]} end/start ${o.ratios[route].toFixed(2)} (needs ≥ 0.9)`)
    if (o.storage.images !== o.expectedImages)
      failing.push(`${o.variant.name}: ${o.storage.images} images stored, ${o.expectedImages} expected`)
    if (o.sampleFailures.length) failing.push(`${o.variant.name}: ${o.sampleFailures.length} sampled tasks did not succeed`)
  }

  console.log('')
  for (const o of outcomes) {
    const { storage: s } = o
    console.log(`${o.variant.name} (${o.variant.note}):`)
    console.log(phaseTable(o))
    console.log(
      `fullest shard ${s.fullestShard}: ${s.bytesPerImage} B/image; retainable ${s.retainableImages} images; ` +
        `${s.shards.reduce((n, x) => n + x.tasks, 0)} tasks, ${s.images} images in ${s.shards.length} shards\n`,
    )
  }
  const extra = SEEDED_TASKS + history.start.created.length
  const millions = (n: number | null) => (n === null ? '?' : `${Math.floor(n / 1e6)}M`)
  console.log(
    `tenant: ${tasks} tasks (+${extra} seeded and made by the first runs) · ${history.storage.images} images · ` +
      `fullest shard ${bytesPerImage} B/image · retainable ${millions(retainableImages)} images · ${ratioText(history)} ` +
      `(with alarms due: ${ratioText(alarms)})`,
  )

  const results = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    method: {
      ...METHOD,
      tasks,
      resultsPerTask: RESULTS_PER_TASK,
      heldTasks: HELD_TASKS,
      seededTasks: SEEDED_TASKS,
      fillConcurrency: FILL_CONCURRENCY,
    },
    required: REQUIRED,
    variants: outcomes.map((o) => ({
      ...o,
      start: { ...o.start, created: o.start.created.length },
      end: { ...o.end, created: o.end.created.length },
    })),
    failing,
    seconds: Math.round((Date.now() - started) / 1000),
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
  writeFileSync(join(ROOT, 'bench', 'results', 'tenant.json'), `${JSON.stringify(results, null, 2)}\n`)
  say('results in bench/results/tenant.json')
  if (failing.length) {
    console.error(`below target:\n  ${failing.join('\n  ')}`)
    process.exitCode = 1
  }
}

await main()
