// The playground: a prompt, one of the model's sizes, the images by signed URL, and a gallery of
// the key's recent images (gallery.js).
import { createGallery } from './gallery.js'

// The API key comes from the URL fragment (#key=…, printed by `npm run dev`) or the form, and
// is kept only in this tab's sessionStorage. Nothing secret is ever part of this page.

const $ = (id) => document.getElementById(id)
const form = $('generate')
const statusLine = $('status')
const errorLine = $('error')
const resultsArea = $('results-area')

function apiKey() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('key')
  if (fromHash) {
    sessionStorage.setItem('imagine-edge-key', fromHash)
    history.replaceState(null, '', location.pathname) // drop the key from the address bar
  }
  return $('api-key').value.trim() || sessionStorage.getItem('imagine-edge-key') || ''
}

function showError(message) {
  errorLine.textContent = message
  errorLine.hidden = false
  statusLine.textContent = ''
}

async function loadModel() {
  const res = await fetch('/v1/models')
  const { data } = await res.json()
  const model = data[0]
  for (const size of model.sizes) {
    const option = new Option(`${size.width} × ${size.height} — ${size.label}`, `${size.width}x${size.height}`)
    $('size').add(option)
  }
  $('size').value = `${model.defaultSize.width}x${model.defaultSize.height}`
  for (const format of model.outputFormats) $('format').add(new Option(format, format))
  Object.assign($('quality'), { min: model.outputQuality.min, max: model.outputQuality.max, value: model.outputQuality.default })
  Object.assign($('results'), { min: model.numberResults.min, max: model.numberResults.max, value: 1 })
  $('reference-field').hidden = !model.capabilities.includes('imageToImage')
  $('prompt').minLength = model.positivePrompt.minLength
  $('prompt').maxLength = model.positivePrompt.maxLength
  return model
}

async function call(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey()}`, ...init.headers },
  })
  const body = await res.json().catch(() => ({}))
  return { res, body }
}

const gallery = createGallery(call)

// The reference image picker: a preview at once, and an upload (POST /v1/images) only on Generate.
const referenceInput = $('reference')
const referencePreview = $('reference-preview')
referenceInput.addEventListener('change', () => {
  const file = referenceInput.files[0]
  const img = referencePreview.querySelector('img')
  if (img.src) URL.revokeObjectURL(img.src)
  referencePreview.hidden = !file
  if (file) img.src = URL.createObjectURL(file)
})
$('reference-clear').addEventListener('click', () => {
  referenceInput.value = ''
  referenceInput.dispatchEvent(new Event('change'))
})

/** Uploads the picked reference image and returns its imageUUID, or null when none is picked. */
async function uploadReference() {
  const file = referenceInput.files[0]
  if (!file) return null
  const res = await fetch('/v1/images', {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey()}`, 'content-type': file.type || 'application/octet-stream' },
    body: file,
  })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(messageOf(body.errors ?? [{ message: `Reference upload failed: HTTP ${res.status}` }]))
  return body.data.imageUUID
}

const messageOf = (errors) => errors.map((e) => (e.parameter ? `${e.message} (${e.parameter})` : e.message)).join('; ')

async function waitForTask(taskUUID, started) {
  for (;;) {
    const { res, body } = await call(`/v1/tasks/${taskUUID}`)
    if (!res.ok) throw new Error(messageOf(body.errors ?? [{ message: `HTTP ${res.status}` }]))
    if (body.data.status !== 'processing') return body.data
    statusLine.textContent = `Generating… ${Math.round((performance.now() - started) / 1000)} s`
    await new Promise((r) => setTimeout(r, 1000))
  }
}

function render(results) {
  resultsArea.replaceChildren()
  results.forEach((result, i) => {
    const figure = document.createElement('figure')
    if (result.imageURL) {
      const img = document.createElement('img')
      img.src = result.imageURL
      img.alt = `Result ${i + 1}`
      img.dataset.testid = 'result-image'
      figure.append(img)
    }
    const caption = document.createElement('figcaption')
    caption.textContent = result.error
      ? `Failed: ${result.error.message}`
      : `seed ${result.seed}${result.cost !== undefined ? ` · $${result.cost}` : ''}`
    figure.append(caption)
    resultsArea.append(figure)
  })
}

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  errorLine.hidden = true
  if (!apiKey()) {
    $('key-fieldset').hidden = false
    $('api-key').focus()
    showError('Enter your gateway API key first.')
    return
  }
  const [width, height] = $('size').value.split('x').map(Number)
  const task = {
    taskType: 'imageInference',
    taskUUID: crypto.randomUUID(),
    model: 'imagineart:1@5',
    positivePrompt: $('prompt').value,
    width,
    height,
    outputFormat: $('format').value,
    outputQuality: Number($('quality').value),
    numberResults: Number($('results').value),
    deliveryMethod: form.elements.deliveryMethod.value,
    includeCost: true,
  }
  $('submit').disabled = true
  const started = performance.now()
  statusLine.textContent = 'Generating…'
  const ticker = setInterval(() => (statusLine.textContent = `Generating… ${Math.round((performance.now() - started) / 1000)} s`), 1000)
  try {
    const reference = await uploadReference()
    if (reference) task.inputs = { referenceImages: [reference] }
    const { res, body } = await call('/v1', { method: 'POST', body: JSON.stringify([task]) })
    if (!body.data) {
      if (res.status === 401) $('key-fieldset').hidden = false
      throw new Error(messageOf(body.errors ?? [{ message: `HTTP ${res.status}` }]))
    }
    const finished = body.data.filter((item) => item.imageUUID)
    const results = finished.length === task.numberResults ? finished : (await waitForTask(task.taskUUID, started)).results
    render(results)
    void gallery.addTask(task.taskUUID)
    statusLine.textContent = `Done in ${((performance.now() - started) / 1000).toFixed(1)} s`
  } catch (error) {
    showError(error.message)
  } finally {
    clearInterval(ticker)
    $('submit').disabled = false
  }
})

loadModel().then(
  () => {
    if (!apiKey()) $('key-fieldset').hidden = false
    else void gallery.load()
  },
  () => showError('Could not load the model list from /v1/models.'),
)
