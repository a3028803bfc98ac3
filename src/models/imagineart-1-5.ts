/** ImagineArt 1.5, as published on its Runware model page (https://runware.ai/docs/models/imagineart-1-5). */
import type { ModelSpec } from './types'

const sizes = [
  { label: '2K (1:1)', width: 2048, height: 2048 },
  { label: '2K (16:9)', width: 2560, height: 1440 },
  { label: '2K (9:16)', width: 1440, height: 2560 },
  { label: '2K (4:3)', width: 2304, height: 1728 },
  { label: '2K (3:4)', width: 1728, height: 2304 },
  { label: '2K (3:1)', width: 2472, height: 824 },
  { label: '2K (1:3)', width: 824, height: 2472 },
  { label: '2K (3:2)', width: 2496, height: 1664 },
  { label: '2K (2:3)', width: 1664, height: 2496 },
] as const

export const imagineArt15: ModelSpec = {
  id: 'imagineart:1@5',
  name: 'ImagineArt 1.5',
  creator: 'ImagineArt',
  capabilities: ['textToImage', 'imageToImage'],
  sizes,
  defaultSize: sizes[0],
  prompt: { minLength: 2, maxLength: 3000 },
  outputTypes: ['URL', 'base64Data', 'dataURI'],
  outputFormats: ['JPG', 'PNG', 'WEBP'],
  outputQuality: { min: 20, max: 99, default: 95 },
  numberResults: { min: 1, max: 20, default: 1 },
  priceUSD: 0.03,
  maxImageBytes: 32 * 1024 * 1024,
  // Inline images arrive as base64 inside the JSON body; 4 × 5 MiB keeps a request's parsing
  // well inside a Worker's 128 MB. Larger images can be referenced by https URL.
  referenceImages: { maxCount: 4, maxBytes: 5 * 1024 * 1024, formats: ['JPG', 'PNG', 'WEBP'] },
}
