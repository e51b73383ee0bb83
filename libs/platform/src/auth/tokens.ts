import { webcrypto } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { DEFAULT_TOKEN_MAX_LIFETIME_SECONDS, DomainError, Roles, TOKEN_CLOCK_SKEW_SECONDS, type Role, type TokenClaims } from '@hms/contracts';

const encoder = new TextEncoder();

/** Issues an HS256 token (the dev stack and `hms token` use this). */
export async function signToken(claims: TokenClaims, secret: string, expiresIn: string | number = '12h'): Promise<string> {
  return new SignJWT({ roles: claims.roles, ...(claims.pools ? { pools: claims.pools } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(encoder.encode(secret));
}

/** Verified claims plus when the token stops being valid (an open stream ends then). */
export interface VerifiedToken extends TokenClaims {
  expiresAt: Date;
}

export interface TokenVerifierOptions {
  /** HS256 shared secret; used when no JWKS URL is given. */
  secret?: string;
  /** The identity provider's keys (RS256/ES256); https only, so the keys cannot be swapped on the wire. */
  jwksUrl?: string;
  /** Longest accepted `exp` - `iat` (and `exp` - now); default {@link DEFAULT_TOKEN_MAX_LIFETIME_SECONDS}. */
  maxLifetimeSeconds?: number;
  /** When set, `iss` must equal it. */
  issuer?: string;
  /** When set, `aud` must contain it. */
  audience?: string;
}

const invalid = (why: string) => new DomainError('UNAUTHENTICATED', `The access token is not acceptable: ${why}`);

/**
 * The checks jose leaves to us: the claims a token must carry and their types, its lifetime, and
 * roles from the closed set (an unknown role is a token from another system or a forgery, not a
 * role to ignore).
 */
export function acceptedClaims(payload: JWTPayload, nowSeconds: number, maxLifetimeSeconds: number): VerifiedToken {
  if (typeof payload.sub !== 'string' || payload.sub.trim() === '') throw invalid('sub must be a non-empty string');
  if (typeof payload.exp !== 'number') throw invalid('exp is required');
  if (payload.iat !== undefined && (typeof payload.iat !== 'number' || payload.iat > nowSeconds + TOKEN_CLOCK_SKEW_SECONDS)) {
    throw invalid('iat is in the future');
  }
  const issuedAt = typeof payload.iat === 'number' ? payload.iat : nowSeconds;
  if (payload.exp - issuedAt > maxLifetimeSeconds || payload.exp - nowSeconds > maxLifetimeSeconds) {
    throw invalid(`its lifetime exceeds ${maxLifetimeSeconds} seconds`);
  }
  const roles = payload.roles;
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every((role) => (Roles as readonly unknown[]).includes(role))) {
    throw invalid(`roles must be a non-empty list of ${Roles.join(', ')}`);
  }
  const pools = payload.pools;
  if (pools !== undefined && (!Array.isArray(pools) || !pools.every((pool) => typeof pool === 'string'))) throw invalid('pools must be a list of strings');
  return { sub: payload.sub, roles: [...new Set(roles as Role[])], ...(pools ? { pools: pools as string[] } : {}), expiresAt: new Date(payload.exp * 1000) };
}

/** How long a verified token is taken on trust without checking its signature again. */
const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Verified tokens remembered at once (the oldest is forgotten first). */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verifies bearer tokens: HS256 with a shared secret, or RS256/ES256 against a JWKS URL in
 * production. Any failure is UNAUTHENTICATED with a short reason (never the token itself).
 */
export class TokenVerifier {
  private readonly jwks?: ReturnType<typeof createRemoteJWKSet>;
  /**
   * The HS256 secret imported once: given the secret's bytes, jose imports a WebCrypto key on
   * every verification, which cost more CPU than the HMAC itself on each gateway call.
   */
  private secretKey?: Promise<webcrypto.CryptoKey>;
  private readonly maxLifetimeSeconds: number;

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.jwksUrl) {
      const url = new URL(options.jwksUrl);
      if (url.protocol !== 'https:') throw new Error('HMS_JWT_JWKS_URL must be an https URL');
      this.jwks = createRemoteJWKSet(url);
    } else if (!options.secret) {
      throw new Error('A token verifier needs a secret or a JWKS URL');
    }
    this.maxLifetimeSeconds = options.maxLifetimeSeconds ?? DEFAULT_TOKEN_MAX_LIFETIME_SECONDS;
  }

  /**
   * Tokens verified lately, by their exact text: a client sends the same token with every call,
   * and the signature check (WebCrypto's HMAC job, and jose's parsing around it) was about a
   * fifth of the gateway's CPU per call. Only a token that verified is kept, until it expires
   * but at most {@link VERIFIED_TOKEN_TTL_MS} (so a key withdrawn from a JWKS stops working
   * within that), and at most {@link VERIFIED_TOKENS_MAX} of them.
   */
  private readonly verified = new Map<string, { token: VerifiedToken; until: number }>();

  async verify(token: string, now: Date = new Date()): Promise<VerifiedToken> {
    const at = now.getTime();
    const known = this.verified.get(token);
    if (known && at < known.until) return known.token;
    if (known) this.verified.delete(token);
    const verified = await this.verifySignature(token, now);
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { token: verified, until: Math.min(verified.expiresAt.getTime(), at + VERIFIED_TOKEN_TTL_MS) });
    return verified;
  }

  private async verifySignature(token: string, now: Date): Promise<VerifiedToken> {
    const checks = {
      currentDate: now,
      clockTolerance: TOKEN_CLOCK_SKEW_SECONDS,
      ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
      ...(this.options.audience ? { audience: this.options.audience } : {}),
    };
    let payload: JWTPayload;
    try {
      ({ payload } = this.jwks
        ? await jwtVerify(token, this.jwks, { ...checks, algorithms: ['RS256', 'ES256'] })
        : await jwtVerify(token, await this.hs256Key(), { ...checks, algorithms: ['HS256'] }));
    } catch {
      throw new DomainError('UNAUTHENTICATED', 'The access token is invalid or expired');
    }
    return acceptedClaims(payload, Math.floor(now.getTime() / 1000), this.maxLifetimeSeconds);
  }

  private hs256Key(): Promise<webcrypto.CryptoKey> {
    this.secretKey ??= webcrypto.subtle.importKey('raw', encoder.encode(this.options.secret ?? ''), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    return this.secretKey;
  }
}
