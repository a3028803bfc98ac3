/**
 * Runware's WebSocket protocol on /v1, end to end: the official SDK (`@runware/sdk-js`) and a raw
 * client against the gateway under `wrangler dev`, with Runware's webhooks arriving over real HTTP.
 */
import { RunwareServer } from '@runware/sdk-js'
import { describe, expect, it } from 'vitest'
import seeds from '../fixtures/seed-examples.json' with { type: 'json' }
import { KEY_A, KEY_B } from '../secrets.ts'
import { socketUrl, TestSocket } from '../support/socket-client.ts'
import { emulator, fetchImage, gateway, inference, postV1, setFault, waitFor } from './helpers.ts'

const PING = '[{"taskType":"ping","ping":true}]'
const neonAlley = JSON.parse(seeds.find((s) => s.title.includes('Neon Alley'))?.request ?? '{}') as Record<string, unknown>

type Item = { taskUUID: string; imageUUID: string; imageURL: string }

const sdk = (apiKey = KEY_A) => new RunwareServer({ apiKey, url: socketUrl(gateway()) })

async function taskView(taskUUID: string, key = KEY_A): Promise<{ status: string; results: { imageUUID?: string }[] }> {
  const res = await fetch(`${gateway()}/v1/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${key}` } })
  return ((await res.json()) as { data: { status: string; results: { imageUUID?: string }[] } }).data
}

async function upstreamChildren(marker: string): Promise<number> {
  const requests = (await (await fetch(`${emulator()}/__emulator/requests?match=${marker}`)).json()) as { body: unknown[] }[]
  return requests.flatMap((r) => r.body).length
}

describe.concurrent('WebSocket protocol', () => {
  it('the official SDK, changed only in url and apiKey, gets the neon alley at 1664×2496 from a gateway signed URL', async () => {
    expect(neonAlley.width).toBe(1664)
    expect(neonAlley.height).toBe(2496)
    const runware = sdk()
    try {
      const [image] = (await runware.requestImages({
        positivePrompt: String(neonAlley.positivePrompt),
        model: 'imagineart:1@5',
        width: 1664,
        height: 2496,
      })) as Item[]
      expect(image?.imageURL.startsWith(`${gateway()}/files/images/`)).toBe(true)
      expect(new URL(image?.imageURL ?? '').searchParams.get('sig')).toBeTruthy()
      expect(await fetchImage(image?.imageURL ?? '')).toMatchObject({ status: 200, format: 'jpeg', width: 1664, height: 2496 })

      const three = (await runware.requestImages({
        positivePrompt: String(neonAlley.positivePrompt),
        model: 'imagineart:1@5',
        width: 1664,
        height: 2496,
        numberResults: 3,
      })) as Item[]
      expect(three).toHaveLength(3)
      expect(new Set(three.map((i) => i.imageUUID)).size).toBe(3)
      expect(new Set(three.map((i) => i.imageURL)).size).toBe(3)
      for (const item of three) expect((await fetchImage(item.imageURL)).status).toBe(200)
    } finally {
      await runware.disconnect()
    }
  })

  it('a socket killed mid-generation resumes with its connectionSessionUUID and gets what finished meanwhile, exactly once', async () => {
    const marker = `ws-resume-${crypto.randomUUID().slice(0, 8)}`
    // Results land 3 s after dispatch, and Runware reports each twice.
    await setFault({ match: marker, lateWebhookRate: 1, lateWebhookMs: 3000, duplicateWebhookRate: 1 })
    const first = await TestSocket.session(socketUrl(gateway()), KEY_A)
    const task = inference({ positivePrompt: `a harbour at dawn ${marker}`, numberResults: 2 })
    first.socket.send([task])
    await waitFor(async () => ((await upstreamChildren(marker)) === 2 ? true : undefined))
    first.socket.kill()

    const finished = await waitFor(async () => {
      const view = await taskView(task.taskUUID)
      return view.status === 'succeeded' ? view : undefined
    })
    expect(first.socket.about(task.taskUUID)).toEqual([])

    const second = await TestSocket.session(socketUrl(gateway()), KEY_A, first.session)
    expect(second.session).toBe(first.session)
    // Both results, in one envelope: the task is complete by now.
    await second.socket.next(() => second.socket.about(task.taskUUID).flatMap((f) => f.data ?? []).length === 2)
    expect(second.socket.about(task.taskUUID)).toHaveLength(1)
    // A client unsure whether its task arrived sends it again: its session pushes nothing twice.
    second.socket.send([task])
    await new Promise((r) => setTimeout(r, 1500))
    const pushed = second.socket.about(task.taskUUID).flatMap((f) => (f.data ?? []) as Item[])
    expect(pushed).toHaveLength(2)
    expect(new Set(pushed.map((i) => i.imageUUID))).toEqual(new Set(finished.results.map((r) => r.imageUUID)))
    for (const item of pushed) expect((await fetchImage(item.imageURL)).status).toBe(200)
    second.socket.close()
    await second.socket.closed

    // Resuming again replays nothing: each result is pushed once.
    const third = await TestSocket.session(socketUrl(gateway()), KEY_A, first.session)
    expect(third.session).toBe(first.session)
    await new Promise((r) => setTimeout(r, 1500))
    expect(third.socket.about(task.taskUUID)).toEqual([])
    third.socket.close()
  })

  it('refuses a wrong key with an error frame and closes; the SDK reports invalidApiKey', async () => {
    const socket = await TestSocket.open(socketUrl(gateway()))
    socket.send([{ taskType: 'authentication', apiKey: 'ie_wrong_key_0000000000000000' }])
    const frame = await socket.next((f) => Boolean(f.errors))
    expect(frame.errors?.[0]).toMatchObject({ code: 'invalidApiKey', taskType: 'authentication', parameter: 'apiKey' })
    expect(await socket.closed).toEqual({ code: 1008, reason: 'authentication failed' })

    const unauthenticated = await TestSocket.open(socketUrl(gateway()))
    unauthenticated.send([inference()])
    expect((await unauthenticated.next((f) => Boolean(f.errors))).errors?.[0]).toMatchObject({ code: 'invalidApiKey' })
    expect((await unauthenticated.closed).code).toBe(1008)

    const runware = sdk('ie_wrong_key_0000000000000000')
    try {
      await expect(
        runware.requestImages({ positivePrompt: 'never runs', model: 'imagineart:1@5', width: 2048, height: 2048 }),
      ).rejects.toMatchObject({
        error: { code: 'invalidApiKey' },
      })
    } finally {
      await runware.disconnect()
    }
  })

  // sdk-js routes frames to a request by comparing taskUUID strings (its listeners' filter):
  // an answer with the id in another case is one it never sees, and the request times out.
  it('the official SDK generates with an upper-case taskUUID, and gets it back as sent', async () => {
    const runware = sdk()
    const taskUUID = crypto.randomUUID().toUpperCase()
    try {
      const images = (await runware.requestImages({
        taskUUID,
        positivePrompt: 'a lantern in the fog',
        model: 'imagineart:1@5',
        width: 2048,
        height: 2048,
        numberResults: 2,
      })) as (Item & { taskUUID: string })[]
      expect(images.map((i) => i.taskUUID)).toEqual([taskUUID, taskUUID])
    } finally {
      await runware.disconnect()
    }
  })

  it('answers an invalid task, a bad frame and an oversize message with error frames; the socket stays open', async () => {
    const { socket } = await TestSocket.session(socketUrl(gateway()), KEY_A)
    const bad = inference({ width: 2048, height: 2048, outputFormat: 'GIF' })
    socket.send([bad])
    const frame = await socket.next((f) => f.errors?.[0]?.taskUUID === bad.taskUUID)
    expect(frame.errors).toEqual([
      expect.objectContaining({ taskType: 'imageInference', parameter: 'outputFormat', allowedValues: ['JPG', 'PNG', 'WEBP'] }),
    ])

    const before = socket.frames.length
    socket.send('this is not json')
    expect((await socket.next((f) => Boolean(f.errors), 5000, before)).errors?.[0]).toMatchObject({ code: 'invalidRequestBody' })

    const big = socket.frames.length
    socket.send([{ ...inference(), positivePrompt: 'x'.repeat(1_100_000) }])
    expect((await socket.next((f) => Boolean(f.errors), 5000, big)).errors?.[0]).toMatchObject({ code: 'payloadTooLarge' })

    const ping = socket.frames.length
    socket.send({ taskType: 'ping', ping: true })
    expect((await socket.next((f) => Boolean(f.data), 5000, ping)).data).toEqual([{ taskType: 'ping', pong: true }])
    expect(socket.open).toBe(true)
    socket.close()
  })

  it('a WebSocket client and a REST client of one tenant see the same task through getResponse', async () => {
    const runware = sdk()
    try {
      const taskUUID = crypto.randomUUID()
      const overSocket = (await runware.requestImages({
        taskUUID,
        positivePrompt: 'a tram in the snow, ws-and-rest',
        model: 'imagineart:1@5',
        width: 2048,
        height: 2048,
        numberResults: 2,
      })) as Item[]
      const rest = await postV1([{ taskType: 'getResponse', taskUUID }])
      expect(rest.status).toBe(200)
      expect(new Set(rest.json.data?.map((i) => i.imageUUID))).toEqual(new Set(overSocket.map((i) => i.imageUUID)))

      const restTask = inference({ positivePrompt: 'a kite over dunes, rest-then-ws', deliveryMethod: 'async' })
      expect((await postV1([restTask])).status).toBe(200)
      await waitFor(async () => ((await taskView(restTask.taskUUID)).status === 'succeeded' ? true : undefined))
      const overRest = (await taskView(restTask.taskUUID)).results.map((r) => r.imageUUID)
      const seen = (await runware.getResponse({ taskUUID: restTask.taskUUID })) as Item[]
      expect(seen.map((i) => i.imageUUID)).toEqual(overRest)
    } finally {
      await runware.disconnect()
    }

    // Another tenant's socket does not see it.
    const { socket } = await TestSocket.session(socketUrl(gateway()), KEY_B)
    const taskUUID = crypto.randomUUID()
    socket.send([{ taskType: 'getResponse', taskUUID }])
    expect((await socket.next((f) => Boolean(f.errors))).errors?.[0]).toMatchObject({ taskUUID, taskType: 'getResponse' })
    socket.close()
  })

  it('pings keep a connection alive past 120 s; a silent one is closed as idle', { timeout: 200_000 }, async () => {
    const pinging = await TestSocket.session(socketUrl(gateway()), KEY_A)
    const silent = await TestSocket.session(socketUrl(gateway()), KEY_A)
    const started = Date.now()
    const silentClosed = silent.socket.closed.then((c) => ({ ...c, afterMs: Date.now() - started }))
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 30_000))
      const before = pinging.socket.frames.length
      pinging.socket.send(PING)
      expect((await pinging.socket.next(() => true, 10_000, before)).data).toEqual([{ taskType: 'ping', pong: true }])
    }
    expect(Date.now() - started).toBeGreaterThan(120_000)
    expect(pinging.socket.open).toBe(true)
    const closed = await silentClosed
    expect(closed).toMatchObject({ code: 1000, reason: 'idle timeout' })
    expect(closed.afterMs).toBeGreaterThanOrEqual(119_000)
    // Still usable after all that time.
    const last = pinging.socket.frames.length
    pinging.socket.send([{ taskType: 'getResponse', taskUUID: crypto.randomUUID() }])
    await pinging.socket.next((f) => Boolean(f.errors), 10_000, last)
    pinging.socket.close()
  })
})
