/**
 * Reading request bodies without trusting them: every body is read as a stream with a byte cap
 * and abandoned (cancelled, the rest never read) at the cap, so a chunked body with no length
 * costs at most the cap in memory, however much the sender has left to send.
 */

/** Reads the first `n` bytes of a stream (fewer if it ends), and a stream of the whole body. */
export async function peek(body: ReadableStream<Uint8Array>, n: number): Promise<{ head: Uint8Array; body: ReadableStream<Uint8Array> }> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let done = false
  while (size < n && !done) {
    const next = await reader.read()
    done = next.done
    if (next.value) {
      chunks.push(next.value)
      size += next.value.byteLength
    }
  }
  const head = concat(chunks, size)
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.byteLength) controller.enqueue(head)
      if (done) controller.close()
    },
    async pull(controller) {
      const next = await reader.read()
      if (next.done) controller.close()
      else controller.enqueue(next.value)
    },
    cancel: (reason) => reader.cancel(reason),
  })
  return { head, body: rest }
}

/** Buffers a body, throwing `tooLarge()` (and cancelling the rest) once it passes `maxBytes`. */
export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let size = 0
  // Leaving the loop early (the throw) cancels the stream.
  for await (const chunk of body) {
    size += chunk.byteLength
    if (size > maxBytes) throw tooLarge()
    chunks.push(chunk)
  }
  return concat(chunks, size)
}

/** One array of `size` bytes from the chunks. */
function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]?.byteLength === size) return chunks[0]
  const out = new Uint8Array(size)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.byteLength
  }
  return out
}
