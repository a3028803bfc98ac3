/** Image types the gateway stores, recognised by their magic bytes rather than by headers. */

export type ImageFormat = 'JPG' | 'PNG' | 'WEBP'

export const CONTENT_TYPES: Record<ImageFormat, string> = { JPG: 'image/jpeg', PNG: 'image/png', WEBP: 'image/webp' }
export const EXTENSIONS: Record<ImageFormat, string> = { JPG: 'jpg', PNG: 'png', WEBP: 'webp' }

/** How many leading bytes `sniffImageFormat` needs. */
export const SNIFF_BYTES = 12

/** The format of an image from its first bytes, or null when it is none we accept. */
export function sniffImageFormat(head: Uint8Array): ImageFormat | null {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'JPG'
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
  if (head.length >= 8 && png.every((b, i) => head[i] === b)) return 'PNG'
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to))
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WEBP'
  return null
}
