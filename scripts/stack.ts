/**
 * Starts the local stack: the Runware emulator and the gateway under `wrangler dev`, wired to
 * each other. Used by `npm run dev`, `npm run demo` and the end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { startEmulator, type Emulator } from '../emulator/server.ts'

export interface StackSecrets {
  RUNWARE_API_KEY: string
  SIGNING_SECRET: string
  API_KEYS: string
  ADMIN_TOKEN?: string
}

export interface StackOptions {
  secrets: StackSecrets
  gatewayPort?: number
  emulatorPort?: number
  /** Where wrangler keeps local KV and R2. */
  persistTo: string
  /** Extra `--var NAME:VALUE` settings for the gateway. */
  vars?: Record<string, string>
  /** Where the gateway's output goes: a file path, or 'inherit' for this terminal. */
  logTo: string | 'inherit'
}

export interface Stack {
  gatewayUrl: string
  emulator: Emulator
  stop(): Promise<void>
}

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`)
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`the gateway did not answer ${url}/healthz within ${timeoutMs} ms`)
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const emulator = await startEmulator({
    port: options.emulatorPort ?? 0,
    apiKey: options.secrets.RUNWARE_API_KEY,
    quiet: options.logTo !== 'inherit',
  })
  const port = options.gatewayPort ?? (await freePort())
  const gatewayUrl = `http://127.0.0.1:${port}`
  const vars: Record<string, string> = {
    RUNWARE_API_URL: `${emulator.url}/v1`,
    PUBLIC_BASE_URL: gatewayUrl,
    ENVIRONMENT: 'development',
    UPLOAD_MODE: 'worker',
    ...options.secrets,
    ...options.vars,
  }
  const args = [
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--persist-to',
    options.persistTo,
    '--show-interactive-dev-session=false',
  ]
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`)
  const child = spawn(`${ROOT}node_modules/.bin/wrangler`, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    stdio: options.logTo === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    // Its own process group, so stopping it also stops workerd, which wrangler starts as a child.
    detached: true,
  })
  if (options.logTo !== 'inherit') {
    const log = createWriteStream(options.logTo)
    child.stdout?.pipe(log)
    child.stderr?.pipe(log)
  }
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child.once('exit', r))
      process.kill(-child.pid, 'SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
    }
    await emulator.close()
  }
  try {
    await waitForHealth(gatewayUrl, child, 90_000)
  } catch (error) {
    await stop()
    throw error
  }
  return { gatewayUrl, emulator, stop }
}
