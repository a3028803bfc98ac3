/** Builds the services for one request, queue batch or cron run, from bindings and config. */
import type { Config } from '../schemas/config'
import { MODELS } from '../models/registry'
import type { DeliveryMessage } from '../schemas/deliveries'
import { ApiKeys } from './api-keys'
import { Deliverer } from './deliverer'
import { DeliveryLog } from './delivery-log'
import { Dispatcher } from './dispatcher'
import { EventPublisher } from './event-publisher'
import { Ledger } from './ledger'
import { GenerationService } from './generation'
import { ImageCache } from './image-cache'
import { ImageStore } from './image-store'
import { Presenter } from './presenter'
import { presignR2Put } from './r2-presign'
import { ResultRecorder } from './result-recorder'
import { Reconciler } from './reconciler'
import { RunwareClient } from './runware-client'
import { TaskStore } from './task-store'
import { TaskView } from './task-view'
import { UrlSigner } from './url-signer'
import { WebhookSecrets } from './webhook-secrets'

export interface Services {
  config: Config
  keys: ApiKeys
  ledger: Ledger
  deliveryLog: DeliveryLog
  publisher: EventPublisher
  deliverer: Deliverer
  secrets: WebhookSecrets
  signer: UrlSigner
  images: ImageStore
  cache: ImageCache
  tasks: TaskStore
  recorder: ResultRecorder
  presenter: Presenter
  generation: GenerationService
  reconciler: Reconciler
  view: TaskView
}

/** The largest image any registered model may produce. */
const MAX_IMAGE_BYTES = Math.max(...MODELS.map((m) => m.maxImageBytes))

/** Runware's own hosts, and the configured upstream's: the only places images are copied from. */
export function copyAllowed(config: Config): (url: URL) => boolean {
  const upstream = new URL(config.RUNWARE_API_URL)
  return (url) =>
    url.host === upstream.host || (url.protocol === 'https:' && (url.hostname === 'runware.ai' || url.hostname.endsWith('.runware.ai')))
}

/** What a request (or a queue batch, or a cron run) lends the services. */
export interface ServiceContext {
  /** The request's origin; PUBLIC_BASE_URL wins when set. */
  origin: string
  waitUntil: (promise: Promise<unknown>) => void
}

export function buildServices(env: Env, config: Config, context: ServiceContext): Services {
  const origin = config.PUBLIC_BASE_URL ?? context.origin
  const signer = new UrlSigner(config.SIGNING_SECRET, origin)
  const images = new ImageStore(env.IMAGES)
  const tasks = new TaskStore(env.TASKS, env.LEDGER, config.RECONCILE_AFTER_SECONDS * 1000, context.waitUntil)
  const deliveryLog = new DeliveryLog(env.IMAGES)
  const publisher = new EventPublisher(env.DELIVERIES as Queue<DeliveryMessage>, deliveryLog)
  const ledger = new Ledger((tenant) => tasks.tenant(tenant))
  const recorder = new ResultRecorder({
    tasks,
    images,
    maxImageBytes: MAX_IMAGE_BYTES,
    mayCopyFrom: copyAllowed(config),
    publisher,
  })
  const presenter = new Presenter(signer, env.IMAGES, config.SIGNED_URL_TTL_SECONDS)
  const secrets = new WebhookSecrets(config.SIGNING_SECRET, env.TASKS)
  const runware = new RunwareClient({ url: config.RUNWARE_API_URL, apiKey: config.RUNWARE_API_KEY })
  // Upload URLs need only outlive the task: after its deadline nothing may land.
  const uploadTtl = config.TASK_DEADLINE_SECONDS
  const uploadUrl =
    config.UPLOAD_MODE === 'r2-presigned'
      ? (key: string) =>
          presignR2Put({
            endpoint: config.R2_S3_ENDPOINT,
            bucket: config.R2_BUCKET_NAME,
            key,
            accessKeyId: config.R2_ACCESS_KEY_ID ?? '',
            secretAccessKey: config.R2_SECRET_ACCESS_KEY ?? '',
            expiresSeconds: uploadTtl,
          })
      : (key: string, taskOrigin: string) => signer.uploadUrl(key, uploadTtl, Date.now(), taskOrigin)
  const dispatcher = new Dispatcher({ runware, signer, uploadUrl })
  const generation = new GenerationService({
    tasks,
    recorder,
    presenter,
    dispatcher,
    origin,
    syncTimeoutSeconds: config.SYNC_TIMEOUT_SECONDS,
    waitUntil: context.waitUntil,
  })
  const reconciler = new Reconciler({
    tasks,
    recorder,
    dispatcher,
    runware,
    deadlineSeconds: config.TASK_DEADLINE_SECONDS,
  })
  const deliverer = new Deliverer({ tasks, log: deliveryLog, presenter, secrets, retryBaseSeconds: config.WEBHOOK_RETRY_BASE_SECONDS })
  return {
    config,
    keys: new ApiKeys(env.TASKS, config),
    ledger,
    deliveryLog,
    publisher,
    deliverer,
    secrets,
    signer,
    images,
    cache: new ImageCache(caches.default),
    tasks,
    recorder,
    presenter,
    generation,
    reconciler,
    view: new TaskView(tasks, presenter, deliveryLog),
  }
}
