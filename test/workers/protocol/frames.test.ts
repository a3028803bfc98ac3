/** WebSocket frames as Runware's SDKs route them: by taskUUID, one envelope per task. */
import { describe, expect, it } from 'vitest'
import { framesPerTask, refusalFrames } from '../../../src/protocol/frames'

const ORIGIN = 'https://gw.example'
/** Each error points at its code's entry on the gateway's errors page. */
const doc = (code: string) => `${ORIGIN}/docs/errors#${code}`

describe('frames', () => {
  // The TypeScript SDK's poller takes a task's first frame (runware-typescript): a task's items
  // and errors must travel in that one frame, not in two.
  it("puts a task's items and errors in one envelope, and keeps other tasks' apart", () => {
    const frames = framesPerTask(
      [
        { taskType: 'imageInference', taskUUID: 'A', imageUUID: '1' },
        { taskType: 'imageInference', taskUUID: 'B', imageUUID: '2' },
      ],
      [{ code: 'nsfwContentDetected', message: 'no', taskType: 'imageInference', taskUUID: 'A' }],
      ORIGIN,
    ).map((f) => JSON.parse(f) as unknown)
    expect(frames).toEqual([
      {
        data: [{ taskType: 'imageInference', taskUUID: 'A', imageUUID: '1' }],
        errors: [
          {
            code: 'nsfwContentDetected',
            message: 'no',
            taskType: 'imageInference',
            taskUUID: 'A',
            documentation: doc('nsfwContentDetected'),
          },
        ],
      },
      { data: [{ taskType: 'imageInference', taskUUID: 'B', imageUUID: '2' }] },
    ])
  })

  // sdk-js drops an error without a taskUUID, so its request hangs until its timeout; the
  // TypeScript SDK fails every task in flight with it.
  it('refuses a message it cannot parse once per task it names, as spelled, and once when it names none', () => {
    const error = { code: 'invalidRequestBody', message: 'Each message must be a JSON array of tasks' }
    const broken = '[{"taskType":"imageInference","taskUUID":"ABC-1", "x": }, {"taskUUID" : "def-2"}, {"taskUUID":"ABC-1"}'
    expect(refusalFrames(broken, error, ORIGIN).map((f) => JSON.parse(f) as unknown)).toEqual([
      { errors: [{ ...error, taskUUID: 'ABC-1', documentation: doc('invalidRequestBody') }] },
      { errors: [{ ...error, taskUUID: 'def-2', documentation: doc('invalidRequestBody') }] },
    ])
    expect(
      refusalFrames(new TextEncoder().encode('not json').buffer as ArrayBuffer, error, ORIGIN).map((f) => JSON.parse(f) as unknown),
    ).toEqual([{ errors: [{ ...error, documentation: doc('invalidRequestBody') }] }])
  })

  it('reads only the first MiB of an oversize message for taskUUIDs', () => {
    const error = { code: 'payloadTooLarge', message: 'big' }
    const head = `[{"taskUUID":"first","positivePrompt":"${'x'.repeat(2 * 1024 * 1024)}"},{"taskUUID":"beyond"}]`
    const first = [{ errors: [{ ...error, taskUUID: 'first', documentation: doc('payloadTooLarge') }] }]
    expect(refusalFrames(head, error, ORIGIN).map((f) => JSON.parse(f) as unknown)).toEqual(first)
    const bytes = new TextEncoder().encode(head).buffer as ArrayBuffer
    expect(refusalFrames(bytes, error, ORIGIN).map((f) => JSON.parse(f) as unknown)).toEqual(first)
  })

  it('reads at most 32 taskUUIDs from one message', () => {
    const many = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ taskUUID: `t${i}` })))
    expect(refusalFrames(many, { code: 'payloadTooLarge', message: 'big' }, ORIGIN)).toHaveLength(32)
  })
})
