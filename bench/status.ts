/**
 * `npm run bench:status`: the status route alone, which has the least margin of the four
 * (docs/performance.md). By default it runs more, shorter A B rounds than `npm run bench`
 * against the same baseline, with workerd's CPU time per request beside the throughput, for
 * quick before/after checks. With `--profile` it records a CPU profile of each Worker under
 * load instead, through workerd's inspector (V8's sampling profiler), and prints the functions
 * with the most self time. The inspector makes console.log far dearer than it is without it,
 * so read a log's share as an upper bound.
 */
process.env.WRANGLER_LOG ??= 'error'

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'
import { bootstrapTenant } from '../src/access/api-keys.ts'
import { UrlSigner } from '../src/images/url-signer.ts'
import { freePort } from '../scripts/stack.ts'
import { CLIENT_KEY, SECRETS, createBody, eachLimit, jpgOfSize, mirrorStatusRecords, runwareWebhook } from './fixtures.ts'
import { load } from './load.ts'
import { median } from './report.ts'
import { ROOT, bundle, startEmulatorProcess, startWorker, type RunningWorker } from './workers.ts'

const TASKS = 1000
const SECONDS = 6
const ROUNDS = Number(process.env.ROUNDS ?? 9)
/** USER_HZ, which Linux fixes at 100 for /proc. */
const TICKS_PER_SECOND = 100
const auth = { authorization: `Bearer ${CLIENT_KEY}` }

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** One Chrome DevTools Protocol session over the inspector's WebSocket. */
async function devtools(url: string) {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
  let id = 0
  const pending = new Map<number, (result: unknown) => void>()
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { id?: number; result?: unknown }
    if (message.id !== undefined) pending.get(message.id)?.(message.result)
  })
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve) => {
        pending.set(++id, resolve as (result: unknown) => void)
        socket.send(JSON.stringify({ id, method, params }))
      }),
    close: () => socket.close(),
  }
}

/** Self time per function, in ms, heaviest first. */
function selfTimes(profile: Profile): { name: string; ms: number; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const totals = new Map<string, number>()
  let all = 0
  profile.samples.forEach((nodeId, i) => {
    const frame = byId.get(nodeId)?.callFrame
    const dt = profile.timeDeltas[i] ?? 0
    all += dt
    if (!frame) return
    const file = frame.url.split('/').pop() || '(native)'
    const name = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}:${frame.columnNumber + 1}`
    totals.set(name, (totals.get(name) ?? 0) + dt)
  })
  return [...totals].map(([name, us]) => ({ name, ms: us / 1000, share: us / all })).sort((a, b) => b.ms - a.ms)
}

/** User plus system CPU time of the Worker's workerd process, in ms. */
function cpuMs(worker: RunningWorker): number {
  const pid = worker.pid()
  if (!pid) throw new Error('no workerd process')
  // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name), in clock ticks.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND
}

/** The gateway with finished tasks (each read once, so KV holds its final record, as in `npm run bench`). */
async function seeded(worker: RunningWorker): Promise<string[]> {
  const tenant = await bootstrapTenant(CLIENT_KEY)
  const signer = new UrlSigner(SECRETS.SIGNING_SECRET, worker.url)
  const bucket = await worker.mf.getR2Bucket('IMAGES')
  const tiny = await jpgOfSize(4 * 1024)
  const tasks = Array.from({ length: TASKS }, () => crypto.randomUUID())
  await eachLimit(tasks, 16, async (taskUUID) => {
    const created = await fetch(`${worker.url}/v1`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: createBody(taskUUID, 1),
    })
    if (!created.ok) throw new Error(`create: ${created.status}`)
    const hook = await runwareWebhook(signer, tenant, taskUUID)
    await bucket.put(hook.objectKey, tiny, { httpMetadata: { contentType: 'image/jpeg' } })
    const recorded = await fetch(`${worker.url}${hook.path}`, { method: 'POST', body: hook.body })
    if (!recorded.ok) throw new Error(`webhook: ${recorded.status}`)
    await (await fetch(`${worker.url}/v1/tasks/${taskUUID}`, { headers: auth })).arrayBuffer()
  })
  return tasks
}

const reads = (tasks: readonly string[], headers: Record<string, string> = {}) => {
  let next = 0
  return {
    method: 'GET' as const,
    path: '/',
    headers,
    setupRequest: (req: object) => ({ ...req, path: `/v1/tasks/${tasks[next++ % tasks.length]}` }),
  }
}

type Kind = 'gateway' | 'baseline'
const headersOf: Record<Kind, Record<string, string>> = { gateway: auth, baseline: {} }

/** A CPU profile of one Worker's isolate under load; the sampled time per request, by function. */
async function profile(kind: Kind, worker: RunningWorker, tasks: readonly string[], inspectorPort: number) {
  const request = () => reads(tasks, headersOf[kind])
  await load({ url: worker.url, connections: 10, durationSeconds: 2, request: request() })
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string
    title?: string
  }[]
  const target = targets.find((t) => t.title?.endsWith(`:${kind}`))
  if (!target) throw new Error(`no inspector target for the ${kind}`)
  const session = await devtools(target.webSocketDebuggerUrl)
  await session.send('Profiler.enable')
  await session.send('Profiler.setSamplingInterval', { interval: 50 })
  await session.send('Profiler.start')
  const result = await load({ url: worker.url, connections: 10, durationSeconds: SECONDS, request: request() })
  const { profile } = await session.send<{ profile: Profile }>('Profiler.stop')
  session.close()
  const out = join(ROOT, 'bench', 'results', `status-${kind}.cpuprofile`)
  writeFileSync(out, JSON.stringify(profile))
  const rows = selfTimes(profile)
  const perRequest = (ms: number) => ((ms * 1000) / result.requests).toFixed(1).padStart(6)
  const busy = rows.filter((r) => r.name !== '(idle) (native):0:0').reduce((sum, r) => sum + r.ms, 0)
  console.log(`\n${kind}: ${result.rps.toFixed(0)} req/s under the profiler, ${perRequest(busy).trim()} µs busy per request (${out})`)
  for (const row of rows.slice(0, kind === 'gateway' ? 30 : 10)) {
    console.log(`${(row.share * 100).toFixed(1).padStart(5)} %  ${perRequest(row.ms)} µs/req  ${row.name}`)
  }
}

/** Rounds of A B: throughput and workerd's CPU time per request. */
async function compare(workers: Record<Kind, RunningWorker>, tasks: readonly string[]) {
  // CPU time of workerd per request is steadier than throughput on a shared VM: it does not
  // count the time the VM waits for its host.
  const run = async (kind: Kind, seconds = SECONDS / 3) => {
    const worker = workers[kind]
    const before = cpuMs(worker)
    const result = await load({ url: worker.url, connections: 10, durationSeconds: seconds, request: reads(tasks, headersOf[kind]) })
    return { ...result, cpuUs: ((cpuMs(worker) - before) * 1000) / result.requests }
  }
  await run('gateway', 1)
  await run('baseline', 1)
  const ratios: number[] = []
  const cpu = { gateway: [] as number[], baseline: [] as number[] }
  for (let i = 0; i < ROUNDS; i++) {
    const g = await run('gateway')
    const b = await run('baseline')
    ratios.push(g.rps / b.rps)
    cpu.gateway.push(g.cpuUs)
    cpu.baseline.push(b.cpuUs)
    console.log(
      `round ${i + 1}: gateway ${g.rps.toFixed(0)} req/s (${g.cpuUs.toFixed(0)} µs CPU each), ` +
        `baseline ${b.rps.toFixed(0)} req/s (${b.cpuUs.toFixed(0)} µs), ratio ${(g.rps / b.rps).toFixed(2)}`,
    )
  }
  const [g, b] = [median(cpu.gateway), median(cpu.baseline)]
  console.log(`status: median ratio ${median(ratios).toFixed(2)} over ${ROUNDS} rounds (npm run bench needs 0.8)`)
  console.log(`workerd CPU per request: gateway ${g.toFixed(0)} µs, baseline ${b.toFixed(0)} µs (gateway adds ${(g - b).toFixed(0)} µs)`)
}

async function main() {
  const profiling = process.argv.includes('--profile')
  // Unminified when profiling, so the profile names functions.
  const dir = bundle('gateway', profiling ? ['--no-minify'] : [])
  const emulator = await startEmulatorProcess(SECRETS.RUNWARE_API_KEY)
  await fetch(`${emulator.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ failUploadRate: 1, dropWebhookRate: 1 }) })
  const inspectorPort = profiling ? await freePort() : undefined
  const inspector = inspectorPort ? { inspectorPort } : {}
  const gateway = await startWorker('gateway', dir, { bindings: { ...SECRETS, RUNWARE_API_URL: `${emulator.url}/v1` }, ...inspector })
  const baselinePort = profiling ? await freePort() : undefined
  const baseline = await startWorker('baseline', bundle('baseline'), {
    bindings: { UPSTREAM_URL: 'http://127.0.0.1:9', UPSTREAM_KEY: 'none' },
    ...(baselinePort ? { inspectorPort: baselinePort } : {}),
  })
  try {
    const tasks = await seeded(gateway)
    // The baseline reads the very same records.
    await mirrorStatusRecords(gateway, baseline, tasks)
    if (inspectorPort && baselinePort) {
      await profile('gateway', gateway, tasks, inspectorPort)
      await profile('baseline', baseline, tasks, baselinePort)
    } else await compare({ gateway, baseline }, tasks)
  } finally {
    await Promise.all([gateway.dispose(), baseline.dispose()])
    await emulator.stop()
  }
}

await main()
