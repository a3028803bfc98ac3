/** Runware's response envelope, `{"data":[…],"errors":[…]}`, streamed item by item. */
import { documented, worstStatus, type ApiError } from './errors'

/** An item rendered only while streaming, so inline images are read from R2 one at a time. */
export type LazyItem = () => Promise<Record<string, unknown>>

/**
 * The response for some items and errors. 200 when any data is returned, otherwise the worst
 * error's status. Items are rendered while streaming, so inline images never pile up in memory.
 */
export function envelopeResponse(items: readonly LazyItem[], errors: readonly ApiError[], origin: string): Response {
  const headers = new Headers({ 'content-type': 'application/json; charset=utf-8' })
  for (const e of errors) for (const [name, value] of Object.entries(e.headers)) headers.set(name, value)
  const errorJson = errors.length ? JSON.stringify(errors.map((e) => documented(e.detail, origin))) : ''
  if (!items.length) return new Response(`{"errors":${errorJson || '[]'}}`, { status: worstStatus(errors), headers })

  const encoder = new TextEncoder()
  const queue = [...items]
  let first = true
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode('{"data":['))
    },
    async pull(controller) {
      const next = queue.shift()
      if (next) {
        controller.enqueue(encoder.encode((first ? '' : ',') + JSON.stringify(await next())))
        first = false
        return
      }
      controller.enqueue(encoder.encode(errorJson ? `],"errors":${errorJson}}` : ']}'))
      controller.close()
    },
  })
  return new Response(body, { status: 200, headers })
}

/** An error (and those reported with it) as a response. */
export const errorResponse = (error: ApiError, origin: string) => envelopeResponse([], [error, ...error.more], origin)
