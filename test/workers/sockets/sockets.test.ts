/**
 * The WebSocket session object inside workerd: per-connection limits, and each stored result
 * pushed once — to the open socket, or kept for the client's return. (Runware's webhooks cannot
 * reach this gateway here, so socket tasks stay in flight until a test says otherwise.)
 */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it, vi } from 'vitest'
import { ApiKeys } from '../../../src/access/api-keys'
import { MAX_TASKS_IN_FLIGHT } from '../../../src/sockets/session-tasks'
import { KEY_A, KEY_B } from '../../secrets'
import { call, hook, inference, shardOf, postV1, setFault, tenantOf, upstreamItem, upstreamRequests } from '../helpers'

type Frame = { data?: Record<string, unknown>[]; errors?: Record<string, unknown>[] }

class Client {
  readonly frames: Frame[] = []
  private constructor(readonly ws: WebSocket) {
    ws.addEventListener('message', (e) => this.frames.push(JSON.parse(String(e.data)) as Frame))
  }

  static async open(): Promise<Client> {
    const res = await call('/v1', { headers: { upgrade: 'websocket' } })
    expect(res.status).toBe(101)
    const ws = res.webSocket
    if (!ws) throw new Error('no socket')
    ws.accept()
    return new Client(ws)
  }

  static async session(key = KEY_A, connectionSessionUUID?: string): Promise<{ client: Client; session: string }> {
    const client = await Client.open()
    client.send([{ taskType: 'authentication', apiKey: key, ...(connectionSessionUUID ? { connectionSessionUUID } : {}) }])
    const frame = await client.next((f) => f.data?.[0]?.taskType === 'authentication')
    return { client, session: String(frame.data?.[0]?.connectionSessionUUID) }
  }

  send(message: unknown) {
    this.ws.send(JSON.stringify(message))
  }

  /** Closes, and waits for the session's object to answer the close (it has handled it by then). */
  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.ws.addEventListener('close', resolve))
    this.ws.close(1000, 'done')
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))])
  }

  async next(match: (f: Frame) => boolean, from = 0, timeoutMs = 15_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.slice(from).find(match)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.frames).slice(0, 400)}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  about(taskUUID: string): Frame[] {
    return this.frames.filter((f) => [...(f.data ?? []), ...(f.errors ?? [])].some((x) => x.taskUUID === taskUUID))
  }
}

const session = (name: string) => env.SOCKETS.get(env.SOCKETS.idFromName(name))
const settle = () => new Promise((r) => setTimeout(r, 300))

describe('WebSocket sessions', () => {
  it('answers GET /v1 without an upgrade with 426, naming the WebSocket endpoint', async () => {
    const res = await call('/v1')
    expect(res.status).toBe(426)
    expect(((await res.json()) as Frame).errors?.[0]).toMatchObject({ code: 'upgradeRequired' })
  })

  it(`refuses imageInference tasks past ${MAX_TASKS_IN_FLIGHT} in flight, and frees the slot of a task refused outright`, async () => {
    const marker = `ws-limit-${crypto.randomUUID().slice(0, 8)}`
    // Runware takes every task but never finishes one here: they all stay in flight.
    await setFault({ match: marker, failGenerationRate: 1, webhookDelayMs: 600_000 })
    const { client } = await Client.session()
    const invalid = inference({ positivePrompt: `${marker} invalid`, outputFormat: 'GIF' })
    client.send([invalid])
    await client.next((f) => f.errors?.[0]?.taskUUID === invalid.taskUUID)

    const tasks = Array.from({ length: MAX_TASKS_IN_FLIGHT + 3 }, (_, i) => inference({ positivePrompt: `${marker} #${i}` }))
    for (let i = 0; i < tasks.length; i += 7) client.send(tasks.slice(i, i + 7))
    const refused = await (async () => {
      for (let i = 0; i < 100; i++) {
        const found = client.frames.filter((f) => f.errors?.[0]?.code === 'tooManyTasksInFlight')
        if (found.length >= 3 && (await upstreamRequests(marker)).flatMap((r) => r.body).length >= MAX_TASKS_IN_FLIGHT) return found
        await new Promise((r) => setTimeout(r, 100))
      }
      return client.frames.filter((f) => f.errors?.[0]?.code === 'tooManyTasksInFlight')
    })()
    expect(refused).toHaveLength(3)
    expect(refused[0]?.errors?.[0]?.message).toContain(String(MAX_TASKS_IN_FLIGHT))
    await settle()
    // The invalid task took no slot: exactly the limit went upstream.
    expect((await upstreamRequests(marker)).flatMap((r) => r.body)).toHaveLength(MAX_TASKS_IN_FLIGHT)
    await client.close()
    // Open tasks would wake the reconciler later; these have served their purpose (DELETE refuses running tasks).
    const tenant = await tenantOf(KEY_A)
    for (const t of tasks) {
      const shard = shardOf(tenant, String(t.taskUUID))
      const state = await shard.read(String(t.taskUUID).toLowerCase())
      if (state) await shard.abandon(state.task.taskUUID, state.task.createdAt)
    }
  })

  // Runware's SDKs route every answer by taskUUID: a refusal of a whole message must name each task.
  it('refuses too many tasks, and a message that is not JSON, to each task by its taskUUID as sent', async () => {
    const { client } = await Client.session()
    const tasks = Array.from({ length: 11 }, () => inference({ taskUUID: crypto.randomUUID().toUpperCase() }))
    client.send(tasks)
    for (const t of tasks) {
      const frame = await client.next((f) => f.errors?.[0]?.taskUUID === t.taskUUID)
      expect(frame.errors).toEqual([expect.objectContaining({ code: 'tooManyTasks', taskType: 'imageInference', taskUUID: t.taskUUID })])
    }
    const named = crypto.randomUUID().toUpperCase()
    client.ws.send(`[{"taskType": "imageInference", "taskUUID": "${named}", "positivePrompt": }]`)
    const frame = await client.next((f) => f.errors?.[0]?.taskUUID === named)
    expect(frame.errors).toEqual([expect.objectContaining({ code: 'invalidRequestBody', taskUUID: named })])
    await client.close()
  })

  // Runware's Python SDK sends its authentication and, without waiting, a ping serialized with
  // spaces (json.dumps), which the runtime's byte-exact auto-response does not match.
  it('authenticates and pongs an eager client that pings before its key lookup is done, 100 times of 100', async () => {
    const resolve = ApiKeys.prototype.resolve
    const slowed = vi.spyOn(ApiKeys.prototype, 'resolve').mockImplementation(async function (this: ApiKeys, key: string) {
      await new Promise((r) => setTimeout(r, 30))
      return resolve.call(this, key)
    })
    try {
      const runs = Array.from({ length: 100 }, async () => {
        const client = await Client.open()
        client.ws.send(`[{"taskType": "authentication", "apiKey": "${KEY_A}"}]`)
        client.ws.send('[{"taskType": "ping", "ping": true}]')
        await client.next((f) => f.data?.[0]?.taskType === 'ping')
        const frames = client.frames.map((f) => f.data?.[0]?.taskType ?? f.errors?.[0]?.code)
        await client.close()
        return frames.join()
      })
      const outcomes = await Promise.all(runs)
      expect(slowed).toHaveBeenCalled()
      expect(outcomes.filter((o) => o === 'authentication,ping')).toHaveLength(100)
    } finally {
      slowed.mockRestore()
    }
  })

  it("answers a spaced ping itself once, then leaves that spelling to the runtime, so the Python SDK's pings never wake it", async () => {
    const spaced = '[{"taskType": "ping", "ping": true}]'
    const { client, session: id } = await Client.session()
    const pongs = () => client.frames.filter((f) => f.data?.[0]?.pong === true).length
    const autoAnswered = () =>
      runInDurableObject(session(id), (_instance, state) => ({
        request: state.getWebSocketAutoResponse()?.request,
        at: state.getWebSockets().map((ws) => state.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null),
      }))
    // Before: the compact spelling (sdk-js's), and nothing answered by the runtime yet.
    expect(await autoAnswered()).toEqual({ request: '[{"taskType":"ping","ping":true}]', at: [null] })
    client.ws.send(spaced)
    await client.next(() => pongs() === 1)
    expect((await autoAnswered()).request).toBe(spaced)
    // The next spaced ping is the runtime's to answer: it stamps the socket, and the pong still comes.
    client.ws.send(spaced)
    await client.next(() => pongs() === 2)
    const after = await autoAnswered()
    expect(after.at[0]).toEqual(expect.any(Number))
    // Anything longer or not a lone ping is never learned.
    client.send([
      { taskType: 'ping', ping: true },
      { taskType: 'ping', ping: true },
    ])
    await client.next(() => pongs() === 4)
    client.ws.send(`[{"taskType": "ping", "ping": true}${' '.repeat(200)}]`)
    await client.next(() => pongs() === 5)
    expect((await autoAnswered()).request).toBe(spaced)
    await client.close()
  })

  it('runs imageUpload and mediaStorage over the socket as over REST, each answer by its taskUUID', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
    const { client } = await Client.session()
    const upload = { taskType: 'imageUpload', taskUUID: crypto.randomUUID(), image: png }
    const media = { taskType: 'mediaStorage', taskUUID: crypto.randomUUID(), operation: 'upload', media: `data:image/png;base64,${png}` }
    client.send([upload, media])
    const uploaded = (await client.next((f) => f.data?.[0]?.taskUUID === upload.taskUUID)).data?.[0]
    expect(uploaded).toMatchObject({ taskType: 'imageUpload', imageUUID: expect.any(String), imageURL: expect.any(String) })
    const stored = (await client.next((f) => f.data?.[0]?.taskUUID === media.taskUUID)).data?.[0]
    expect(stored).toMatchObject({
      taskType: 'mediaStorage',
      operation: 'upload',
      mediaUUID: expect.any(String),
      mediaURL: expect.any(String),
    })
    const remove = { taskType: 'mediaStorage', taskUUID: crypto.randomUUID(), operation: 'delete', media: stored?.mediaUUID }
    client.send([remove])
    const removed = (await client.next((f) => f.data?.[0]?.taskUUID === remove.taskUUID)).data?.[0]
    expect(removed).toEqual({ taskType: 'mediaStorage', taskUUID: remove.taskUUID, operation: 'delete', mediaUUID: stored?.mediaUUID })
    await client.close()
  })

  it('pushes a stored result once however often it is announced, and never to another tenant', async () => {
    const task = inference({ numberResults: 2 })
    expect((await postV1([task])).json.data).toHaveLength(2)
    const tenant = await tenantOf(KEY_A)
    const { client, session: id } = await Client.session()
    await session(id).deliver(tenant, task.taskUUID, [0, 1], 2)
    await session(id).deliver(tenant, task.taskUUID, [1, 0], 2)
    await session(id).deliver(await tenantOf(KEY_B), task.taskUUID, [0], 2)
    await client.next(() => client.about(task.taskUUID).length === 1)
    await settle()
    const frames = client.about(task.taskUUID)
    expect(frames).toHaveLength(1)
    expect(frames[0]?.data).toHaveLength(2)
    expect(frames[0]?.data?.every((item) => typeof item.imageURL === 'string')).toBe(true)
    await client.close()
  })

  // Runware's TypeScript SDK takes a task's first frame: its items and errors must travel together.
  it("pushes a task's image and its failed result in one envelope", async () => {
    const marker = `half-${crypto.randomUUID()}`
    await setFault({ match: marker, failSeeds: [71] })
    const task = inference({ positivePrompt: `a half moon ${marker}`, numberResults: 2, seed: 70 })
    const answer = await postV1([task])
    expect(answer.json.data).toHaveLength(1)
    expect(answer.json.errors).toHaveLength(1)
    const { client, session: id } = await Client.session()
    await session(id).deliver(await tenantOf(KEY_A), task.taskUUID, [0, 1], 2)
    const frame = await client.next((f) => client.about(task.taskUUID).includes(f))
    expect(frame.data).toEqual([expect.objectContaining({ taskUUID: task.taskUUID, seed: 70 })])
    expect(frame.errors).toEqual([expect.objectContaining({ taskUUID: task.taskUUID, code: 'internalServerError' })])
    await client.close()
  })

  it("pushes a socket task's results once Runware's webhooks have completed it, in one envelope", async () => {
    const marker = `socket-${crypto.randomUUID()}`
    const { client } = await Client.session()
    const task = inference({ positivePrompt: `a paper boat ${marker}`, numberResults: 2 })
    client.send([task])
    let children: Record<string, unknown>[] = []
    await vi.waitFor(async () => {
      children = (await upstreamRequests(marker))[0]?.body ?? []
      expect(children).toHaveLength(2)
    })
    // Runware's webhooks, played by hand: nothing is pushed until the last result is stored.
    for (const child of children) {
      expect((await hook(String(child.webhookURL), await upstreamItem(String(child.taskUUID)))).status).toBe(200)
      await settle()
    }
    await client.next(() => client.about(task.taskUUID).length > 0)
    await settle()
    const frames = client.about(task.taskUUID)
    expect(frames).toHaveLength(1)
    expect(frames[0]?.data).toHaveLength(2)
    await client.close()
  })

  it('keeps results that land while the socket is gone, and replays them to the client that resumes, once', async () => {
    const task = inference()
    expect((await postV1([task])).status).toBe(200)
    const tenant = await tenantOf(KEY_A)
    const first = await Client.session()
    await first.client.close()
    await settle()
    await session(first.session).deliver(tenant, task.taskUUID, [0], 1)

    // Another tenant cannot take the session over: it gets a fresh one.
    const stranger = await Client.session(KEY_B, first.session)
    expect(stranger.session).not.toBe(first.session)
    expect(stranger.client.about(task.taskUUID)).toEqual([])

    const second = await Client.session(KEY_A, first.session)
    expect(second.session).toBe(first.session)
    await second.client.next(() => second.client.about(task.taskUUID).length > 0)
    // Results stored after the resume reach the new socket through the session's own name.
    await session(first.session).deliver(tenant, task.taskUUID, [0], 1)
    await settle()
    expect(second.client.about(task.taskUUID)).toHaveLength(1)
    await second.client.close()
    await stranger.client.close()
  })
})
