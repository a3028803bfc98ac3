/**
 * What a string naming an input image is (`inputs.referenceImages[i]`, `imageUpload.image`):
 * an https URL, a data URI, plain base64, or the imageUUID of an image the gateway holds.
 * Inline images are checked here without decoding them whole: the size follows from the
 * base64 length, and the format from the first bytes.
 */
import { fromBase64 } from './encoding'
import { sniffImageFormat, type ImageFormat } from './image-type'
import { unsafeTargetReason } from './url-safety'

export type ImageSource = { kind: 'url'; url: string } | { kind: 'uuid'; imageUUID: string } | { kind: 'inline'; base64: string }

export interface ImageLimits {
  maxBytes: number
  formats: readonly ImageFormat[]
}

/** A refusal, with the Runware-style code it is reported under. */
export interface ImageSourceProblem {
  code: 'invalidImage' | 'imageTooLarge'
  message: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DATA_URI = /^data:([^;,]*)(;base64)?,(.*)$/s
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const MIN_BASE64_LENGTH = 16

const problem = (message: string, code: ImageSourceProblem['code'] = 'invalidImage'): ImageSourceProblem => ({ code, message })

function inline(base64: string, limits: ImageLimits): ImageSource | ImageSourceProblem {
  if (base64.length < MIN_BASE64_LENGTH || base64.length % 4 !== 0 || !BASE64.test(base64)) {
    return problem('is not valid base64 image data')
  }
  const bytes = (base64.length / 4) * 3 - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0)
  if (bytes > limits.maxBytes) return problem(`is ${bytes} bytes; the limit is ${limits.maxBytes} bytes`, 'imageTooLarge')
  const format = sniffImageFormat(fromBase64(base64.slice(0, MIN_BASE64_LENGTH)) ?? new Uint8Array())
  if (!format || !limits.formats.includes(format))
    return problem(`is not a ${limits.formats.join(', ')} image (checked by its first bytes)`)
  return { kind: 'inline', base64 }
}

/** What `value` names, or why it is refused. */
export function parseImageSource(value: string, limits: ImageLimits): ImageSource | ImageSourceProblem {
  if (UUID.test(value)) return { kind: 'uuid', imageUUID: value.toLowerCase() }
  if (value.startsWith('data:')) {
    const match = DATA_URI.exec(value)
    if (!match || !match[2] || !/^image\/[a-z+.-]+$/i.test(match[1] ?? '')) {
      return problem('is not a valid data URI: expected data:image/<png|jpeg|webp>;base64,<data>')
    }
    return inline(match[3] ?? '', limits)
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    const reason = unsafeTargetReason(value, false)
    return reason ? problem(`URL ${reason}`) : { kind: 'url', url: value }
  }
  if (BASE64.test(value)) return inline(value, limits)
  return problem('must be an https URL, a data URI, base64 image data, or the imageUUID of an image stored through this gateway')
}

export const isImageSourceProblem = (v: ImageSource | ImageSourceProblem): v is ImageSourceProblem => 'code' in v
