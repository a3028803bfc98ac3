// The gallery: the key's recent results as thumbnails (w=256, in whatever format the browser
// takes: the gateway negotiates AVIF or WebP from Accept), lazy-loaded; a click opens the full
// image with its seed, size and cost. A thumbnail costs a few kilobytes where its original costs megabytes.

const PAGE = 24
const THUMB_WIDTH = 256

/** A signed imageURL's thumbnail: the same signature, with `w` from the gateway's widths. */
export const thumbnailURL = (imageURL) => {
  const url = new URL(imageURL)
  url.searchParams.set('w', String(THUMB_WIDTH))
  return url.toString()
}

/** `call(path)` is the playground's authorised fetch: it resolves to { res, body }. */
export function createGallery(call) {
  const $ = (id) => document.getElementById(id)
  const section = $('gallery-section')
  const grid = $('gallery')
  const more = $('gallery-more')
  const viewer = $('viewer')
  const shown = new Set()
  let cursor = null

  function open(task, result) {
    const image = $('viewer-image')
    image.src = result.imageURL
    image.alt = `Result ${result.index + 1} of task ${task.taskUUID}`
    const cost = result.cost !== undefined ? ` · $${result.cost}` : ''
    $('viewer-caption').textContent = `seed ${result.seed} · ${task.width} × ${task.height}${cost}`
    viewer.showModal()
  }

  function thumbnail(task, result) {
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'thumb'
    button.title = `seed ${result.seed}`
    const img = document.createElement('img')
    img.src = thumbnailURL(result.imageURL)
    img.loading = 'lazy'
    img.decoding = 'async'
    // The size is known before the bytes arrive, so the grid never jumps.
    img.width = THUMB_WIDTH
    img.height = Math.round((THUMB_WIDTH * task.height) / task.width)
    img.alt = `Result ${result.index + 1}, seed ${result.seed}`
    img.dataset.testid = 'gallery-thumb'
    button.append(img)
    button.addEventListener('click', () => open(task, result))
    return button
  }

  /** Adds a task's finished images, newest first at the front or older ones at the end. */
  function add(task, where) {
    const items = task.results
      .filter((r) => r.imageURL && !shown.has(r.imageUUID))
      .map((r) => {
        shown.add(r.imageUUID)
        return thumbnail(task, r)
      })
    if (where === 'front') grid.prepend(...items)
    else grid.append(...items)
    section.hidden = grid.childElementCount === 0
  }

  async function load() {
    const query = new URLSearchParams({ limit: String(PAGE), status: 'succeeded' })
    if (cursor) query.set('cursor', cursor)
    const { res, body } = await call(`/v1/tasks?${query}`)
    if (!res.ok) return
    for (const task of body.data) add(task, 'end')
    cursor = body.nextCursor
    more.hidden = !cursor
  }

  more.addEventListener('click', () => load())
  $('viewer-close').addEventListener('click', () => viewer.close())

  return {
    load,
    /** A task that just finished joins the front of the grid. */
    async addTask(taskUUID) {
      const { res, body } = await call(`/v1/tasks/${taskUUID}`)
      if (res.ok) add(body.data, 'front')
    },
  }
}
