/** Bundle size and startup cost: a startup CPU profile, and the first response of a fresh workerd. */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { median } from './report.ts'
import { CONFIGS, ROOT, startWorker, type WorkerKind } from './workers.ts'

export function bundleSize(script: string): { bytes: number; gzipBytes: number; kib: number; gzipKib: number } {
  const bytes = readFileSync(script)
  const gzipBytes = gzipSync(bytes, { level: 9 }).length
  return { bytes: bytes.length, gzipBytes, kib: bytes.length / 1024, gzipKib: gzipBytes / 1024 }
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string } }[]
  samples: number[]
  timeDeltas: number[]
}

/**
 * CPU time of the Worker's startup phase, from `wrangler check startup`: the sum of sampled
 * time outside (idle)/(program)/(root). The first sample is skipped: its delta covers the time
 * before profiling began. Sampling is about 1 ms, so this is accurate to a few ms.
 */
function profiledStartupMs(kind: WorkerKind): number {
  const outfile = join(mkdtempSync(join(tmpdir(), 'imagine-edge-startup-')), 'startup.cpuprofile')
  execFileSync(join(ROOT, 'node_modules', '.bin', 'wrangler'), ['check', 'startup', '--outfile', outfile], {
    cwd: dirname(CONFIGS[kind].config),
    stdio: 'ignore',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  })
  const profile = JSON.parse(readFileSync(outfile, 'utf8')) as CpuProfile
  const idle = new Set(profile.nodes.filter((n) => ['(idle)', '(program)', '(root)'].includes(n.callFrame.functionName)).map((n) => n.id))
  let micros = 0
  profile.samples.forEach((sample, i) => {
    if (i > 0 && !idle.has(sample)) micros += profile.timeDeltas[i] ?? 0
  })
  return micros / 1000
}

/** Milliseconds from starting a fresh workerd to the Worker's first response, median of `times`. */
async function firstResponseMs(kind: WorkerKind, outdir: string, bindings: Record<string, string>, times = 3): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < times; i++) {
    const t0 = performance.now()
    const worker = await startWorker(kind, outdir, { bindings })
    // /healthz on the gateway validates the configuration: the first request's real work.
    await (await fetch(`${worker.url}${kind === 'gateway' ? '/healthz' : '/'}`)).arrayBuffer()
    samples.push(performance.now() - t0)
    await worker.dispose()
  }
  return median(samples)
}

export async function startupCost(
  dirs: Record<WorkerKind, string>,
  bindings: Record<WorkerKind, Record<string, string>>,
): Promise<{ rows: string[][]; summary: string; profiledMs: Record<WorkerKind, number>; firstResponseMs: Record<WorkerKind, number> }> {
  const profiledMs = { gateway: profiledStartupMs('gateway'), baseline: profiledStartupMs('baseline') }
  const first = {
    gateway: await firstResponseMs('gateway', dirs.gateway, bindings.gateway),
    baseline: await firstResponseMs('baseline', dirs.baseline, bindings.baseline),
  }
  return {
    profiledMs,
    firstResponseMs: first,
    summary: `the gateway's script costs about ${(profiledMs.gateway - profiledMs.baseline).toFixed(0)} ms more CPU to start than the baseline's; a fresh workerd answers its first request ${(first.gateway - first.baseline).toFixed(0)} ms later`,
    rows: [
      ['startup CPU (wrangler check startup), ms', profiledMs.gateway.toFixed(1), profiledMs.baseline.toFixed(1)],
      ['fresh workerd to first response, ms', first.gateway.toFixed(0), first.baseline.toFixed(0)],
    ],
  }
}
