/**
 * Hostile bodies for POST /v1, each with the status and error code it must get: never a 5xx, a
 * stack trace or a hang. Cases are data; add one whenever the API grows a parameter.
 */
import { describe, expect, it } from 'vitest'
import { KEY_A } from '../../secrets'
import { call } from '../helpers'

const task = (extra: Record<string, unknown> = {}) =>
  JSON.stringify([
    {
      taskType: 'imageInference',
      taskUUID: crypto.randomUUID(),
      model: 'imagineart:1@5',
      positivePrompt: 'a calm sea',
      deliveryMethod: 'async',
      ...extra,
    },
  ])
/** A task with one field's raw JSON text spliced in (for what JSON.stringify cannot write). */
const raw = (field: string, json: string) => task().replace('"deliveryMethod":"async"', `"deliveryMethod":"async","${field}":${json}`)

type Case = [name: string, body: string, status: number, code: string, parameter?: string]

const CASES: Case[] = [
  ['empty body', '', 400, 'invalidRequestBody'],
  ['not JSON', '{not json', 400, 'invalidRequestBody'],
  ['a bare number', '42', 400, 'invalidRequestBody'],
  ['a bare string', '"imageInference"', 400, 'invalidRequestBody'],
  ['null', 'null', 400, 'invalidRequestBody'],
  ['an empty array', '[]', 400, 'invalidRequestBody'],
  ['10,000 levels of nesting', '['.repeat(10_000) + ']'.repeat(10_000), 400, 'invalidRequestBody'],
  ['100,000 tasks', JSON.stringify(Array.from({ length: 100_000 }, () => ({}))), 400, 'tooManyTasks'],
  ['11 tasks', JSON.stringify(Array.from({ length: 11 }, () => ({ taskType: 'ping' }))), 400, 'tooManyTasks'],
  ['a task that is an array', '[[1,2,3]]', 400, 'invalidRequestBody'],
  ['a task that is null', '[null]', 400, 'invalidRequestBody'],
  ['a task that is a string', '["imageInference"]', 400, 'invalidRequestBody'],
  ['no taskType', '[{"taskUUID":"x"}]', 400, 'missingParameter', 'taskType'],
  ['an unknown taskType', '[{"taskType":"videoInference"}]', 400, 'unsupportedTaskType', 'taskType'],
  ['taskType as a number', '[{"taskType":7}]', 400, 'unsupportedTaskType', 'taskType'],
  ['__proto__ as taskType', '[{"taskType":"__proto__"}]', 400, 'unsupportedTaskType', 'taskType'],
  ['constructor as taskType', '[{"taskType":"constructor"}]', 400, 'unsupportedTaskType', 'taskType'],
  ['a __proto__ key', raw('__proto__', '{"polluted":true}'), 400, 'unsupportedParameter', '__proto__'],
  ['a constructor key', raw('constructor', '{"prototype":{}}'), 400, 'unsupportedParameter', 'constructor'],
  ['an unknown parameter', task({ steps: 30 }), 400, 'unsupportedParameter', 'steps'],
  ['no model', task({ model: undefined }), 400, 'missingParameter', 'model'],
  ['an unknown model', task({ model: 'runware:100@1' }), 400, 'modelNotFound', 'model'],
  ['model as an object', task({ model: { id: 'imagineart:1@5' } }), 400, 'modelNotFound', 'model'],
  ['taskUUID not a UUID', task({ taskUUID: 'not-a-uuid' }), 400, 'invalidParameter', 'taskUUID'],
  ['taskUUID as a number', task({ taskUUID: 12345 }), 400, 'invalidParameter', 'taskUUID'],
  ['taskUUID with a path in it', task({ taskUUID: '../../admin' }), 400, 'invalidParameter', 'taskUUID'],
  ['no positivePrompt', task({ positivePrompt: undefined }), 400, 'missingParameter', 'positivePrompt'],
  ['a one-character prompt', task({ positivePrompt: 'a' }), 400, 'invalidParameter', 'positivePrompt'],
  ['a 3001-character prompt', task({ positivePrompt: 'a'.repeat(3001) }), 400, 'invalidParameter', 'positivePrompt'],
  ['a prompt that is a number', task({ positivePrompt: 12345 }), 400, 'invalidParameter', 'positivePrompt'],
  ['a prompt that is an array', task({ positivePrompt: ['a calm', 'sea'] }), 400, 'invalidParameter', 'positivePrompt'],
  [
    'a NUL in the prompt',
    raw('positivePrompt', '"a calm\\u0000sea"').replace('"positivePrompt":"a calm sea",', ''),
    400,
    'invalidParameter',
    'positivePrompt',
  ],
  ['a bell character in the prompt', task({ positivePrompt: 'a calm\u0007sea' }), 400, 'invalidParameter', 'positivePrompt'],
  [
    'a lone high surrogate in the prompt',
    raw('positivePrompt', '"a calm \\ud800 sea"').replace('"positivePrompt":"a calm sea",', ''),
    400,
    'invalidParameter',
    'positivePrompt',
  ],
  [
    'a lone low surrogate in the prompt',
    raw('positivePrompt', '"a calm \\udc00 sea"').replace('"positivePrompt":"a calm sea",', ''),
    400,
    'invalidParameter',
    'positivePrompt',
  ],
  ['width as a string', task({ width: '2048', height: 2048 }), 400, 'invalidParameter', 'width'],
  ['width as a float', task({ width: 2048.5, height: 2048 }), 400, 'invalidParameter', 'width'],
  ['width negative', task({ width: -2048, height: 2048 }), 400, 'invalidParameter'],
  ['a size not on the model page', task({ width: 1024, height: 1024 }), 400, 'invalidParameter'],
  ['width without height', task({ width: 2048 }), 400, 'missingParameter', 'height'],
  ['numberResults 0', task({ numberResults: 0 }), 400, 'invalidParameter', 'numberResults'],
  ['numberResults 21', task({ numberResults: 21 }), 400, 'invalidParameter', 'numberResults'],
  ['numberResults as a string', task({ numberResults: '4' }), 400, 'invalidParameter', 'numberResults'],
  ['numberResults 1e308', raw('numberResults', '1e308'), 400, 'invalidParameter', 'numberResults'],
  ['numberResults NaN as text', raw('numberResults', '"NaN"'), 400, 'invalidParameter', 'numberResults'],
  ['seed Infinity as text', raw('seed', '"Infinity"'), 400, 'invalidParameter', 'seed'],
  ['seed negative', task({ seed: -1 }), 400, 'invalidParameter', 'seed'],
  ['seed past 2^53', raw('seed', '9007199254740993'), 400, 'invalidParameter', 'seed'],
  ['outputQuality 100', task({ outputQuality: 100 }), 400, 'invalidParameter', 'outputQuality'],
  ['an unknown outputFormat', task({ outputFormat: 'GIF' }), 400, 'invalidParameter', 'outputFormat'],
  ['outputFormat in lower case', task({ outputFormat: 'jpg' }), 400, 'invalidParameter', 'outputFormat'],
  ['an unknown outputType', task({ outputType: 'file' }), 400, 'invalidParameter', 'outputType'],
  ['an unknown deliveryMethod', task({ deliveryMethod: 'stream' }), 400, 'invalidParameter', 'deliveryMethod'],
  ['includeCost as a string', task({ includeCost: 'true' }), 400, 'invalidParameter', 'includeCost'],
  ['ttl under a minute', task({ ttl: 59 }), 400, 'invalidParameter', 'ttl'],
  ['ttl of 31 years', task({ ttl: 1_000_000_000 }), 400, 'invalidParameter', 'ttl'],
  ['ttl a second past 7 days', task({ ttl: 7 * 86_400 + 1 }), 400, 'invalidParameter', 'ttl'],
  ['ttl past 10^12', task({ ttl: 1e13 }), 400, 'invalidParameter', 'ttl'],
  ['a javascript: webhookURL', task({ webhookURL: 'javascript:alert(1)' }), 400, 'invalidWebhookURL', 'webhookURL'],
  ['a file: uploadEndpoint', task({ uploadEndpoint: 'file:///etc/passwd' }), 400, 'invalidUploadEndpoint', 'uploadEndpoint'],
  ['a webhookURL with credentials', task({ webhookURL: 'https://user:pass@example.com/hook' }), 400, 'invalidWebhookURL', 'webhookURL'],
  ['deliveryMethod null', task({ deliveryMethod: null }), 400, 'invalidParameter', 'deliveryMethod'],
  ['inputs as a string', task({ inputs: 'referenceImages' }), 400, 'invalidParameter', 'inputs'],
  ['safety with an unknown key', task({ safety: { checkContent: true, level: 9 } }), 400, 'unsupportedParameter'],
  ['five reference images', task({ inputs: { referenceImages: ['a', 'b', 'c', 'd', 'e'] } }), 400, 'invalidParameter'],
  ['a reference image that is a number', task({ inputs: { referenceImages: [42] } }), 400, 'invalidParameter'],
  ['getResponse without a taskUUID', '[{"taskType":"getResponse"}]', 400, 'missingParameter', 'taskUUID'],
  ['getResponse for a non-UUID', '[{"taskType":"getResponse","taskUUID":"../../x"}]', 400, 'invalidParameter', 'taskUUID'],
  [
    'imageUpload of a number',
    `[{"taskType":"imageUpload","taskUUID":"${crypto.randomUUID()}","image":5}]`,
    400,
    'invalidParameter',
    'image',
  ],
  [
    'mediaStorage delete of a non-UUID',
    `[{"taskType":"mediaStorage","taskUUID":"${crypto.randomUUID()}","operation":"delete","media":"../../uploads/x"}]`,
    404,
    'mediaNotFound',
    'media',
  ],
  [
    'mediaStorage upload of a number',
    `[{"taskType":"mediaStorage","taskUUID":"${crypto.randomUUID()}","operation":"upload","media":7}]`,
    400,
    'invalidParameter',
    'media',
  ],
  [
    'mediaStorage with an extra field',
    `[{"taskType":"mediaStorage","taskUUID":"${crypto.randomUUID()}","operation":"upload","media":"x","folder":"/"}]`,
    400,
    'unsupportedParameter',
    'folder',
  ],
  [
    'mediaStorage with no operation',
    `[{"taskType":"mediaStorage","taskUUID":"${crypto.randomUUID()}","media":"x"}]`,
    400,
    'missingParameter',
    'operation',
  ],
]

const send = (body: string) =>
  call('/v1', { method: 'POST', headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' }, body })

describe('hostile bodies on POST /v1', () => {
  // RFC 8259 lets a parser ignore a byte-order mark, and JSON.parse keeps the last of duplicate
  // keys: both are read as the JSON they spell, never as an error or a 5xx.
  it('reads a body behind a byte-order mark, and the last of duplicate keys, as JSON does', async () => {
    const bom = await send(`\uFEFF${task()}`)
    expect(bom.status).toBe(200)
    const taskUUID = crypto.randomUUID()
    const duplicate = `[{"taskType":"imageInference","taskUUID":"${taskUUID}","model":"imagineart:1@5","positivePrompt":"x","positivePrompt":"a calm sea","deliveryMethod":"async"}]`
    const res = await send(duplicate)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ data: [{ taskType: 'imageInference', taskUUID }] })
  })

  it('has at least 60 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(60))

  it.each(CASES)('%s → %i %s', async (_name, body, status, code, parameter) => {
    const res = await call('/v1', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' },
      body,
    })
    const text = await res.text()
    expect(res.status).toBe(status)
    const errors = (JSON.parse(text) as { errors?: { code: string; parameter?: unknown }[] }).errors ?? []
    const error = errors.find((e) => e.code === code)
    expect(error, text.slice(0, 300)).toBeDefined()
    if (parameter !== undefined) expect(error?.parameter).toBe(parameter)
    expect(text).not.toMatch(/at \w+ \(|\.ts:\d+/) // no stack trace
  })
})
