/**
 * The two Workers under test, each bundled exactly as `wrangler deploy` would bundle it and run
 * under bare Miniflare (never `wrangler dev`, whose proxy costs more than the Workers do), plus
 * the emulator in a separate process so it never shares the load generator's event loop.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { Miniflare, type WorkerOptions } from 'miniflare'
import { unstable_getMiniflareWorkerOptions } from 'wrangler'
import { freePort } from '../scripts/stack.ts'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT = join(ROOT, 'bench', '.out')

export type WorkerKind = 'gateway' | 'baseline'

export const CONFIGS: Record<WorkerKind, { config: string; script: string }> = {
  gateway: { config: join(ROOT, 'wrangler.jsonc'), script: 'index.js' },
  baseline: { config: join(ROOT, 'bench', 'baseline', 'wrangler.jsonc'), script: 'worker.js' },
}

/** Bundles a Worker with `wrangler deploy --dry-run --outdir` and returns the bundle's folder. */
export function bundle(kind: WorkerKind, extraArgs: string[] = []): string {
  const outdir = join(OUT, kind + extraArgs.join(''))
  execFileSync(
    join(ROOT, 'node_modules', '.bin', 'wrangler'),
    ['deploy', '--dry-run', '--outdir', outdir, '-c', CONFIGS[kind].config, ...extraArgs],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    },
  )
  return outdir
}

export interface RunningWorker {
  url: string
  mf: Miniflare
  /** The workerd process serving it, for memory samples. */
  pid: () => number | undefined
  dispose(): Promise<void>
}

export interface StartOptions {
  bindings: Record<string, string>
  /** Keep R2 and the cache on disk (not in workerd's memory), for memory measurements. */
  persistTo?: string
  /** Opens workerd's inspector on this port, for CPU profiles (`npm run bench:status -- --profile`). */
  inspectorPort?: number
}

/** Rate-limit tiers keep their binding calls but get limits no benchmark reaches. */
type RateLimits = Record<string, { simple: { limit: number; period?: 10 | 60 } }>
function unreachableLimits(ratelimits: RateLimits | undefined): RateLimits {
  return Object.fromEntries(
    Object.entries(ratelimits ?? {}).map(([name, options]) => [name, { ...options, simple: { ...options.simple, limit: 1_000_000_000 } }]),
  )
}

export async function startWorker(kind: WorkerKind, outdir: string, options: StartOptions): Promise<RunningWorker> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(CONFIGS[kind].config)
  const port = await freePort()
  // Static assets (playground, docs) are served by Cloudflare before the Worker runs; the API
  // routes measured here never reach them, so the asset router is left out of both Workers.
  const { assets: _assets, ...rest } = workerOptions as WorkerOptions & { assets?: unknown }
  const before = new Set(workerdPids())
  // workerd's output is drained, not shown; its last lines are kept to explain a failed start.
  let stderrTail = ''
  const mf = new Miniflare({
    ...(rest as WorkerOptions),
    name: kind,
    modules: true,
    modulesRoot: outdir,
    scriptPath: join(outdir, CONFIGS[kind].script),
    bindings: { ...(rest.bindings as Record<string, string>), ...options.bindings },
    ratelimits: unreachableLimits(rest.ratelimits as RateLimits | undefined),
    host: '127.0.0.1',
    port,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    // The gateway's log lines are still written; the bench just does not print them.
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      stdout.resume()
      stderr.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString()).slice(-4000)))
    },
    ...(options.persistTo
      ? {
          r2Persist: join(options.persistTo, 'r2'),
          cachePersist: join(options.persistTo, 'cache'),
          kvPersist: join(options.persistTo, 'kv'),
        }
      : {}),
  })
  const url = await mf.ready.then(
    (u) => u.origin,
    (error: unknown) => {
      console.error(stderrTail)
      throw error
    },
  )
  const pids = workerdPids().filter((p) => !before.has(p))
  return { url, mf, pid: () => pids[0], dispose: () => mf.dispose() }
}

/** workerd processes that are children of this process. */
function workerdPids(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), 'workerd'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
}

export interface EmulatorProcess {
  url: string
  child: ChildProcess
  stop(): Promise<void>
}

/** The Runware emulator in its own Node process. */
export async function startEmulatorProcess(apiKey: string): Promise<EmulatorProcess> {
  const port = await freePort()
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['emulator/cli.ts', '--port', String(port), '--quiet'], {
    cwd: ROOT,
    env: { ...process.env, RUNWARE_API_KEY: apiKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the emulator exited with code ${code}`)))
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening on')) resolve()
    })
  })
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
