/**
 * The composition root: builds the services for one request, queue batch or socket session
 * wake, from bindings and config. The only module that knows every domain.
 */
import type { Config } from './config/schema'
import { MODELS } from './models/registry'
import type { DeliveryMessage } from './schemas/deliveries'
import { ApiKeys } from './access/api-keys'
import { RateLimits } from './access/rate-limits'
import { Deliverer } from './deliveries/deliverer'
import { DeliveryLog } from './deliveries/delivery-log'
import { Dispatcher } from './tasks/dispatcher'
import { EventPublisher } from './deliveries/event-publisher'
import { GenerationService } from './tasks/generation'
import { ImageCache } from './images/image-cache'
import { ImageStore } from './images/image-store'
import { Presenter } from './images/presenter'
import { referenceTarget, uploadTarget } from './images/upload-targets'
import { ImageLibrary } from './images/image-library'
import { Variants } from './images/variants'
import { ResultRecorder } from './tasks/result-recorder'
import { Reconciler } from './tasks/reconciler'
import { copyAllowed, RunwareClient } from './upstream/runware-client'
import { SocketNotifier } from './deliveries/socket-notifier'
import { TaskStore } from './tasks/task-store'
import { TaskView } from './tasks/task-view'
import { UrlSigner } from './images/url-signer'
import { WebhookSecrets } from './deliveries/webhook-secrets'
import { TenantClient } from './tenant/tenant-client'
import { ShardMap } from './tenant/shard-map'

/** The largest image any registered model may produce. */
const MAX_IMAGE_BYTES = Math.max(...MODELS.map((m) => m.maxImageBytes))

/** What a request (or a queue batch, or a cron run) lends the services. */
export interface ServiceContext {
  /** The request's origin; PUBLIC_BASE_URL wins when set. */
  origin: string
  waitUntil: (promise: Promise<unknown>) => void
  /** The request's W3C traceparent, carried by the tasks it creates (to Runware and to their webhooks). */
  traceparent?: string
}

/**
 * One request's (or queue batch's) services, each built on first use: a status read should not
 * pay for the generation pipeline it never touches.
 */
export class Services {
  readonly origin: string
  constructor(
    private readonly env: Env,
    readonly config: Config,
    private readonly context: ServiceContext,
  ) {
    this.origin = config.PUBLIC_BASE_URL ?? context.origin
  }

  #signer?: UrlSigner
  #images?: ImageStore
  #cache?: ImageCache
  #variants?: Variants
  #keys?: ApiKeys
  #rateLimits?: RateLimits
  #tasks?: TaskStore
  #tenants?: TenantClient
  #deliveryLog?: DeliveryLog
  #publisher?: EventPublisher
  #secrets?: WebhookSecrets
  #presenter?: Presenter
  #library?: ImageLibrary
  #view?: TaskView
  #recorder?: ResultRecorder
  #sockets?: SocketNotifier
  #runware?: RunwareClient
  #dispatcher?: Dispatcher
  #generation?: GenerationService
  #reconciler?: Reconciler
  #deliverer?: Deliverer

  get signer(): UrlSigner {
    return (this.#signer ??= new UrlSigner(this.config.SIGNING_SECRET, this.origin, this.config.SIGNING_SECRET_PREVIOUS))
  }
  get images(): ImageStore {
    return (this.#images ??= new ImageStore(this.env.IMAGES))
  }
  get cache(): ImageCache {
    return (this.#cache ??= new ImageCache(caches.default))
  }
  get variants(): Variants {
    // Optional: an operator who has not enabled Images serves originals only.
    return (this.#variants ??= new Variants(this.images, this.env.TRANSFORMS as ImagesBinding | undefined))
  }
  get keys(): ApiKeys {
    return (this.#keys ??= new ApiKeys(this.env.TASKS, this.config))
  }
  get rateLimits(): RateLimits {
    return (this.#rateLimits ??= new RateLimits(this.env, this.config.DEFAULT_RATE_LIMIT_PER_MINUTE))
  }
  get tenants(): TenantClient {
    return (this.#tenants ??= new TenantClient(this.env.SHARDS, this.env.ACCOUNTS, new ShardMap(this.config.TENANT_SHARDS)))
  }
  get tasks(): TaskStore {
    return (this.#tasks ??= new TaskStore(this.env.TASKS, this.tenants))
  }
  get deliveryLog(): DeliveryLog {
    return (this.#deliveryLog ??= new DeliveryLog(this.env.IMAGES))
  }
  get publisher(): EventPublisher {
    return (this.#publisher ??= new EventPublisher(this.env.DELIVERIES as Queue<DeliveryMessage>, this.deliveryLog))
  }
  get secrets(): WebhookSecrets {
    return (this.#secrets ??= new WebhookSecrets(this.config.SIGNING_SECRET, this.env.TASKS, this.config.SIGNING_SECRET_PREVIOUS))
  }
  get library(): ImageLibrary {
    return (this.#library ??= new ImageLibrary(this.images, this.tenants))
  }
  get presenter(): Presenter {
    return (this.#presenter ??= new Presenter(this.signer, this.images, this.config.SIGNED_URL_TTL_SECONDS))
  }
  get view(): TaskView {
    return (this.#view ??= new TaskView(this.tasks, this.presenter, this.deliveryLog))
  }
  get recorder(): ResultRecorder {
    return (this.#recorder ??= new ResultRecorder({
      tenants: this.tenants,
      images: this.images,
      maxImageBytes: MAX_IMAGE_BYTES,
      verifyUploads: this.config.UPLOAD_MODE === 'r2-presigned',
      mayCopyFrom: copyAllowed(this.config),
      publisher: this.publisher,
      sockets: this.sockets,
    }))
  }
  get sockets(): SocketNotifier {
    return (this.#sockets ??= new SocketNotifier(this.env.SOCKETS))
  }
  get runware(): RunwareClient {
    return (this.#runware ??= new RunwareClient({ url: this.config.RUNWARE_API_URL, apiKey: this.config.RUNWARE_API_KEY }))
  }
  get dispatcher(): Dispatcher {
    return (this.#dispatcher ??= new Dispatcher({
      runware: this.runware,
      signer: this.signer,
      uploadUrl: uploadTarget(this.config, this.signer),
      referenceUrl: referenceTarget(this.config, this.signer),
    }))
  }
  get generation(): GenerationService {
    return (this.#generation ??= new GenerationService({
      tenants: this.tenants,
      reconcileAfterSeconds: this.config.RECONCILE_AFTER_SECONDS,
      recorder: this.recorder,
      presenter: this.presenter,
      dispatcher: this.dispatcher,
      sockets: this.sockets,
      origin: this.origin,
      ...(this.context.traceparent ? { traceparent: this.context.traceparent } : {}),
      syncTimeoutSeconds: this.config.SYNC_TIMEOUT_SECONDS,
      check: (task) => this.reconciler.run([{ v: 1, tenant: task.tenant, taskUUID: task.taskUUID }]),
      waitUntil: this.context.waitUntil,
    }))
  }
  get reconciler(): Reconciler {
    return (this.#reconciler ??= new Reconciler({
      tenants: this.tenants,
      recorder: this.recorder,
      dispatcher: this.dispatcher,
      runware: this.runware,
      deadlineSeconds: this.config.TASK_DEADLINE_SECONDS,
    }))
  }
  get deliverer(): Deliverer {
    return (this.#deliverer ??= new Deliverer({
      tasks: this.tasks,
      log: this.deliveryLog,
      presenter: this.presenter,
      images: this.images,
      secrets: this.secrets,
      retryBaseSeconds: this.config.WEBHOOK_RETRY_BASE_SECONDS,
      retryMaxSeconds: this.config.WEBHOOK_RETRY_MAX_SECONDS,
    }))
  }
}

export function buildServices(env: Env, config: Config, context: ServiceContext): Services {
  return new Services(env, config, context)
}
