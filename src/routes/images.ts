/**
 * POST /v1/images — stores an input image for later `inputs.referenceImages`, from a raw body
 * (`Content-Type: image/png` and friends) or a multipart form's `image` field. The resource
 * twin of the `imageUpload` task.
 */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { readCapped } from '../lib/streams'
import { UPLOAD_LIMITS } from '../models/registry'
import { requireTenant, services } from './middleware'

/** Room for a form's boundaries and part headers around the image. */
const FORM_OVERHEAD_BYTES = 64 * 1024

const formTooLarge = () =>
  new ApiError(413, {
    code: 'payloadTooLarge',
    message: `The form is larger than ${UPLOAD_LIMITS.maxBytes + FORM_OVERHEAD_BYTES} bytes (an image of at most ${UPLOAD_LIMITS.maxBytes})`,
    parameter: 'image',
  })

export const imageRoutes = new Hono<AppEnv>().use('*', requireTenant).post('/', async (c) => {
  const type = c.req.header('content-type') ?? ''
  let body: ReadableStream<Uint8Array> | null = c.req.raw.body
  let length: number | null = c.req.header('content-length') ? Number(c.req.header('content-length')) : null
  if (type.startsWith('multipart/form-data')) {
    // The form is buffered to be parsed: capped while it streams, so a chunked form cannot run the isolate out of memory.
    const form = await readCapped(c.req.raw.body, UPLOAD_LIMITS.maxBytes + FORM_OVERHEAD_BYTES, formTooLarge)
    const file = (await new Response(form, { headers: { 'content-type': type } }).formData()).get('image')
    if (!file || typeof file === 'string') {
      throw new ApiError(400, {
        code: 'missingParameter',
        message: 'The form needs an image file in the field "image"',
        parameter: 'image',
      })
    }
    body = file.stream()
    length = file.size
  }
  const imageUUID = crypto.randomUUID()
  const { library, presenter } = services(c)
  const key = await library.store(c.get('tenant'), imageUUID, body, length, UPLOAD_LIMITS.maxBytes)
  return c.json({ data: { taskType: 'imageUpload', imageUUID, imageURL: await presenter.uploadUrl(key) } }, 201)
})
