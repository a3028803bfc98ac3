/** GET /v1/models — the registry, so a UI can build its controls from it. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { MODELS } from '../models/registry'

const body = {
  data: MODELS.map((m) => ({
    id: m.id,
    name: m.name,
    creator: m.creator,
    capabilities: m.capabilities,
    sizes: m.sizes,
    defaultSize: m.defaultSize,
    positivePrompt: m.prompt,
    outputTypes: m.outputTypes,
    outputFormats: m.outputFormats,
    outputQuality: m.outputQuality,
    numberResults: m.numberResults,
    priceUSD: m.priceUSD,
  })),
}

export const modelRoutes = new Hono<AppEnv>().get('/', (c) => c.json(body))
