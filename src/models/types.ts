/** The shape of a model entry in the registry. Model rules live here as data, not as code. */
import type { ImageFormat } from '../lib/image-type'

export type Capability = 'textToImage' | 'imageToImage'

export interface ModelSize {
  label: string
  width: number
  height: number
}

export interface ModelSpec {
  id: string
  name: string
  creator: string
  capabilities: readonly Capability[]
  sizes: readonly ModelSize[]
  defaultSize: ModelSize
  prompt: { minLength: number; maxLength: number }
  outputTypes: readonly ['URL', 'base64Data', 'dataURI']
  outputFormats: readonly ImageFormat[]
  outputQuality: { min: number; max: number; default: number }
  numberResults: { min: number; max: number; default: number }
  /** USD per image, as Runware prices it; used for estimates, never instead of Runware's reported cost. */
  priceUSD: number
  /** Largest generated image the gateway accepts into R2. */
  maxImageBytes: number
  referenceImages: { maxCount: number; maxBytes: number; formats: readonly ImageFormat[] }
}
