/**
 * Per-tenant webhook signing secrets, derived from SIGNING_SECRET (nothing secret is stored).
 * Rotation bumps a version kept in KV; for ROTATION_GRACE_SECONDS after it, events carry
 * signatures from both the new and the previous secret.
 */
import { hmacKey } from '../lib/crypto'
import { utf8 } from '../lib/encoding'
import { kvWebhookSecretKey } from '../lib/storage-keys'
import { formatSecret } from './standard-webhooks'

export const ROTATION_GRACE_SECONDS = 86_400

interface SecretState {
  version: number
  rotatedAt: number
}

export interface TenantSecrets {
  current: { version: number; secret: Uint8Array }
  /** Present during the grace window after a rotation. */
  previous?: { version: number; secret: Uint8Array; expiresAt: number }
  /** The current version derived from SIGNING_SECRET_PREVIOUS: clients still hold it while the operator's rotation settles. */
  beforeRotation?: Uint8Array
}

export class WebhookSecrets {
  constructor(
    private readonly signingSecret: string,
    private readonly kv: KVNamespace,
    /** SIGNING_SECRET_PREVIOUS, while the operator rotates SIGNING_SECRET. */
    private readonly previousSigningSecret?: string,
  ) {}

  private async derive(tenant: string, version: number, master = this.signingSecret): Promise<Uint8Array> {
    const key = await hmacKey(master, 'client-webhooks')
    return new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8(`${tenant}:${version}`)))
  }

  async forTenant(tenant: string, now = Date.now()): Promise<TenantSecrets> {
    const state = (await this.kv.get<SecretState>(kvWebhookSecretKey(tenant), 'json')) ?? { version: 0, rotatedAt: 0 }
    const current = { version: state.version, secret: await this.derive(tenant, state.version) }
    const beforeRotation = this.previousSigningSecret
      ? { beforeRotation: await this.derive(tenant, state.version, this.previousSigningSecret) }
      : {}
    const expiresAt = state.rotatedAt + ROTATION_GRACE_SECONDS * 1000
    if (state.version === 0 || now >= expiresAt) return { current, ...beforeRotation }
    return {
      current,
      previous: { version: state.version - 1, secret: await this.derive(tenant, state.version - 1), expiresAt },
      ...beforeRotation,
    }
  }

  /** Starts using a new secret; the old one keeps signing for the grace window. */
  async rotate(tenant: string, now = Date.now()): Promise<TenantSecrets> {
    const { current } = await this.forTenant(tenant, now)
    await this.kv.put(kvWebhookSecretKey(tenant), JSON.stringify({ version: current.version + 1, rotatedAt: now } satisfies SecretState))
    return {
      current: { version: current.version + 1, secret: await this.derive(tenant, current.version + 1) },
      previous: { ...current, expiresAt: now + ROTATION_GRACE_SECONDS * 1000 },
    }
  }

  /** What `GET /v1/webhooks/secret` shows. */
  static describe(secrets: TenantSecrets): Record<string, unknown> {
    return {
      secret: formatSecret(secrets.current.secret),
      version: secrets.current.version,
      ...(secrets.previous
        ? {
            previous: {
              secret: formatSecret(secrets.previous.secret),
              version: secrets.previous.version,
              expiresAt: new Date(secrets.previous.expiresAt).toISOString(),
            },
          }
        : {}),
    }
  }
}
