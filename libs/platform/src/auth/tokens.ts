import { webcrypto } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { DomainError, Roles, type Role, type TokenClaims } from '@hms/contracts';

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

function toClaims(payload: JWTPayload): TokenClaims {
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is Role => (Roles as readonly unknown[]).includes(r)) : [];
  const pools = Array.isArray(payload.pools) ? payload.pools.filter((p): p is string => typeof p === 'string') : undefined;
  if (!payload.sub) throw new DomainError('UNAUTHENTICATED', 'The token has no subject');
  if (roles.length === 0) throw new DomainError('UNAUTHENTICATED', 'The token has no known role');
  return { sub: payload.sub, roles, ...(pools ? { pools } : {}) };
}

/** How long a verified token is taken on trust without checking its signature again. */
const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Verified tokens remembered at once (the oldest is forgotten first). */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verifies bearer tokens: HS256 with a shared secret, or RS256/ES256 against a JWKS URL in
 * production. Any failure is UNAUTHENTICATED; the reason is not leaked beyond a short message.
 */
export class TokenVerifier {
  private readonly jwks?: ReturnType<typeof createRemoteJWKSet>;
  /**
   * The HS256 secret imported once: given the secret's bytes, jose imports a WebCrypto key on
   * every verification, which cost more CPU than the HMAC itself on each gateway call.
   */
  private secretKey?: Promise<webcrypto.CryptoKey>;

  constructor(private readonly options: { secret?: string; jwksUrl?: string }) {
    if (options.jwksUrl) this.jwks = createRemoteJWKSet(new URL(options.jwksUrl));
  }

  /**
   * Tokens verified lately, by their exact text: a client sends the same token with every call,
   * and the signature check (WebCrypto's HMAC job, and jose's parsing around it) was about a
   * fifth of the gateway's CPU per call. Only a token that verified is kept, until it expires
   * but at most {@link VERIFIED_TOKEN_TTL_MS} (so a key withdrawn from a JWKS stops working
   * within that), and at most {@link VERIFIED_TOKENS_MAX} of them.
   */
  private readonly verified = new Map<string, { claims: TokenClaims; until: number }>();

  async verify(token: string): Promise<TokenClaims> {
    const now = Date.now();
    const known = this.verified.get(token);
    if (known && known.until > now) return known.claims;
    if (known) this.verified.delete(token);
    const claims = await this.verifySignature(token);
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { claims: claims.claims, until: Math.min(claims.expiresAt ?? Infinity, now + VERIFIED_TOKEN_TTL_MS) });
    return claims.claims;
  }

  private async verifySignature(token: string): Promise<{ claims: TokenClaims; expiresAt?: number }> {
    try {
      const { payload } = this.jwks
        ? await jwtVerify(token, this.jwks, { algorithms: ['RS256', 'ES256'] })
        : await jwtVerify(token, await this.hs256Key(), { algorithms: ['HS256'] });
      return { claims: toClaims(payload), ...(payload.exp !== undefined ? { expiresAt: payload.exp * 1000 } : {}) };
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw new DomainError('UNAUTHENTICATED', 'The access token is invalid or expired');
    }
  }

  private hs256Key(): Promise<webcrypto.CryptoKey> {
    this.secretKey ??= webcrypto.subtle.importKey('raw', encoder.encode(this.options.secret ?? ''), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    return this.secretKey;
  }
}
