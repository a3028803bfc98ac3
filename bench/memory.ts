/**
 * Peak memory of the image route at two object sizes. Storage is on disk for these runs, and the
 * object is stored by one workerd and served by a fresh one, so neither the stored bytes nor the
 * upload's buffers are in the measured process: what remains is what serving costs. A route that
 * buffers whole objects grows with them (10 connections × 15 MB); one that streams stays flat.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jpgOfSize } from './fixtures.ts'
import { load } from './load.ts'
import { startWorker, type WorkerKind } from './workers.ts'

const SIZES = [
  { label: '1.5 MB', bytes: 1.5 * 1024 * 1024 },
  { label: '15 MB', bytes: 15 * 1024 * 1024 },
]
const CONNECTIONS = 10
const SECONDS = 4
/** The most the 15 MB peak may exceed the 1.5 MB peak by. */
const FLAT = 0.1

const rssKiB = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) : 0
}

/** Serves `jpg` from a fresh workerd under load and returns its peak RSS in MiB. */
async function peakRss(
  kind: WorkerKind,
  outdir: string,
  bindings: Record<string, string>,
  jpg: Uint8Array,
  path: (key: string) => Promise<string>,
  key: string,
): Promise<number> {
  const persistTo = mkdtempSync(join(tmpdir(), 'imagine-edge-memory-'))
  const seeder = await startWorker(kind, outdir, { bindings, persistTo })
  await (await seeder.mf.getR2Bucket('IMAGES')).put(key, jpg, { httpMetadata: { contentType: 'image/jpeg' } })
  await seeder.dispose()
  const worker = await startWorker(kind, outdir, { bindings, persistTo })
  try {
    const pid = worker.pid()
    if (!pid) throw new Error('cannot find the workerd process')
    const target = await path(key)
    await (await fetch(`${worker.url}${target}`)).arrayBuffer()
    let peak = rssKiB(pid)
    const timer = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 10)
    const result = await load({
      url: worker.url,
      connections: CONNECTIONS,
      durationSeconds: SECONDS,
      request: { method: 'GET', path: target },
    })
    clearInterval(timer)
    if (result.failed || !result.requests) throw new Error(`${kind}: ${result.failed} of ${result.requests} image requests failed`)
    return peak / 1024
  } finally {
    await worker.dispose()
    rmSync(persistTo, { recursive: true, force: true })
  }
}

export interface MemoryResult {
  rows: { label: string; bytes: number; gatewayMiB: number; baselineMiB: number }[]
  /** Growth of the gateway's peak from the small object to the large one. */
  growth: number
  flat: boolean
  verdict: string
}

export async function imageMemory(
  dirs: Record<WorkerKind, string>,
  bindings: Record<WorkerKind, Record<string, string>>,
  paths: Record<WorkerKind, (key: string) => Promise<string>>,
  key: string,
): Promise<MemoryResult> {
  const rows: MemoryResult['rows'] = []
  for (const size of SIZES) {
    const jpg = await jpgOfSize(size.bytes)
    rows.push({
      label: size.label,
      bytes: jpg.length,
      gatewayMiB: await peakRss('gateway', dirs.gateway, bindings.gateway, jpg, paths.gateway, key),
      baselineMiB: await peakRss('baseline', dirs.baseline, bindings.baseline, jpg, paths.baseline, key),
    })
  }
  const [small, large] = rows
  const growth = small && large ? large.gatewayMiB / small.gatewayMiB - 1 : Number.NaN
  const flat = growth <= FLAT
  return {
    rows,
    growth,
    flat,
    verdict: `the gateway's peak grows ${(growth * 100).toFixed(1)} % from 1.5 MB to 15 MB (needs ≤ ${FLAT * 100} %: ${flat ? 'ok' : 'NOT FLAT'})`,
  }
}
