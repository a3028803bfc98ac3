/** The models this gateway serves. Adding a model is adding an entry here. */
import { imagineArt15 } from './imagineart-1-5'
import type { ModelSpec } from './types'

export type { ModelSpec, ModelSize, Capability } from './types'

export const MODELS: readonly ModelSpec[] = [imagineArt15]

const byId = new Map(MODELS.map((m) => [m.id, m]))

export const findModel = (id: string): ModelSpec | undefined => byId.get(id)

export const MODEL_IDS = MODELS.map((m) => m.id)

/** What an uploaded input image may be: the most any model accepts as a reference. */
export const UPLOAD_LIMITS = {
  maxBytes: Math.max(...MODELS.map((m) => m.referenceImages.maxBytes)),
  formats: [...new Set(MODELS.flatMap((m) => m.referenceImages.formats))],
}
