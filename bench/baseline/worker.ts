/**
 * The baseline each gateway route is measured against (docs/performance.md): the same I/O,
 * and nothing else — no validation, signing, authentication, logging or framework.
 */
interface Env {
  TASKS: KVNamespace
  IMAGES: R2Bucket
  UPSTREAM_URL: string
  UPSTREAM_KEY: string
}

const json = (body: string, status = 200) => new Response(body, { status, headers: { 'content-type': 'application/json' } })

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url)
    // create: one KV write and one upstream fetch.
    if (request.method === 'POST' && pathname === '/v1') {
      const text = await request.text()
      const [task] = JSON.parse(text) as { taskUUID: string }[]
      const [, upstream] = await Promise.all([
        env.TASKS.put(`task:${task?.taskUUID}`, text),
        fetch(env.UPSTREAM_URL, {
          method: 'POST',
          headers: { authorization: `Bearer ${env.UPSTREAM_KEY}`, 'content-type': 'application/json' },
          body: text,
        }),
      ])
      return json(await upstream.text(), upstream.status)
    }
    // webhook: one KV write and one R2 head.
    if (request.method === 'POST' && pathname.startsWith('/webhooks/')) {
      const text = await request.text()
      const [, head] = await Promise.all([env.TASKS.put(`result:${pathname}`, text), env.IMAGES.head('bench/image.jpg')])
      return json(head ? '{"ok":true}' : '{"ok":false}', head ? 200 : 404)
    }
    // status: one KV read.
    if (request.method === 'GET' && pathname.startsWith('/v1/tasks/')) {
      const record = await env.TASKS.get(`status:${pathname.slice('/v1/tasks/'.length)}`)
      return record === null ? json('{"errors":[]}', 404) : json(record)
    }
    // image: one streamed R2 read.
    if (request.method === 'GET' && pathname.startsWith('/files/')) {
      const object = await env.IMAGES.get(pathname.slice('/files/'.length))
      if (!object) return new Response(null, { status: 404 })
      return new Response(object.body, { headers: { 'content-type': 'image/jpeg', 'content-length': String(object.size) } })
    }
    return new Response(null, { status: 404 })
  },
} satisfies ExportedHandler<Env>
