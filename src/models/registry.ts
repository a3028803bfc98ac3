/** The models this gateway serves. Adding a model is adding an entry here. */
import { imagineArt15 } from './imagineart-1-5'
import type { ModelSpec } from './types'

export type { ModelSpec, ModelSize, Capability } from './types'

export const MODELS: readonly ModelSpec[] = [imagineArt15]

const byId = new Map(MODELS.map((m) => [m.id, m]))

export const findModel = (id: string): ModelSpec | undefined => byId.get(id)

export const MODEL_IDS = MODELS.map((m) => m.id)
