import { randomBytes } from 'node:crypto';
import type { Context, Hono } from 'hono';
import type { RecordStore } from './store.js';

export interface AuthOptions {
  /**
   * Bearer tokens the REST API accepts besides those it issues. When omitted, any non-empty bearer token is
   * accepted (the usual setup for tests); when given, only these and issued tokens are.
   */
  accessTokens?: string[];
  /** Credentials the token endpoint and SOAP login check. Each one omitted accepts any non-empty value. */
  oauth?: { clientId?: string; clientSecret?: string; username?: string; password?: string };
}

/** Tokens issued, refreshed and revoked by the login endpoints. A sandbox reset keeps them, so connected clients stay connected. */
export class Sessions {
  private issued = new Set<string>();
  private refreshTokens = new Set<string>();
  private revoked = new Set<string>();

  constructor(
    private readonly options: AuthOptions,
    private readonly store: RecordStore,
  ) {}

  isValid(token: string): boolean {
    if (!token || this.revoked.has(token)) return false;
    if (this.issued.has(token)) return true;
    return this.options.accessTokens ? this.options.accessTokens.includes(token) : true;
  }

  issue(): string {
    // Salesforce session ids start with the org id and a '!'.
    const token = `${this.store.user.organizationId.slice(0, 15)}!${randomBytes(24).toString('base64url')}`;
    this.issued.add(token);
    return token;
  }

  issueRefresh(): string {
    const token = `5Aep${randomBytes(32).toString('base64url')}`;
    this.refreshTokens.add(token);
    return token;
  }

  isRefreshToken(token: string): boolean {
    return this.refreshTokens.has(token) && !this.revoked.has(token);
  }

  revoke(token: string): boolean {
    const known = this.issued.has(token) || this.refreshTokens.has(token) || this.options.accessTokens?.includes(token) === true;
    if (known || this.options.accessTokens === undefined) this.revoked.add(token);
    return known || this.options.accessTokens === undefined;
  }

  checkClient(clientId: string | undefined, clientSecret: string | undefined): 'ok' | 'invalid_client_id' | 'invalid_client' {
    const expected = this.options.oauth ?? {};
    if (!clientId || (expected.clientId !== undefined && clientId !== expected.clientId)) return 'invalid_client_id';
    if (expected.clientSecret !== undefined && clientSecret !== expected.clientSecret) return 'invalid_client';
    return 'ok';
  }

  checkUser(username: string | undefined, password: string | undefined): boolean {
    const expected = this.options.oauth ?? {};
    if (!username || !password) return false;
    if (expected.username !== undefined && username !== expected.username) return false;
    if (expected.password !== undefined && password !== expected.password) return false;
    return true;
  }
}

const origin = (c: Context): string => new URL(c.req.url).origin;

const identityUrl = (c: Context, store: RecordStore): string => `${origin(c)}/id/${store.user.organizationId}/${store.user.id}`;

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const unescapeXml = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/**
 * The login surface jsforce uses: the OAuth 2.0 token endpoint (password, client_credentials and
 * refresh_token grants), token revocation, the identity URL and the (deprecated) SOAP login.
 */
export function mountAuthRoutes(app: Hono, sessions: Sessions, store: RecordStore, apiVersion: string): void {
  app.post('/services/oauth2/token', async (c) => {
    const form = await c.req.parseBody();
    const param = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
    const oauthError = (error: string, description: string, status: 400 | 401 = 400) => c.json({ error, error_description: description }, status);
    const grant = param('grant_type');
    if (grant !== 'password' && grant !== 'client_credentials' && grant !== 'refresh_token') {
      return oauthError('unsupported_grant_type', 'grant type not supported');
    }
    const client = sessions.checkClient(param('client_id'), param('client_secret'));
    if (client === 'invalid_client_id') return oauthError('invalid_client_id', 'client identifier invalid');
    if (client === 'invalid_client') return oauthError('invalid_client', 'invalid client credentials');
    if (grant === 'password' && !sessions.checkUser(param('username'), param('password'))) {
      return oauthError('invalid_grant', 'authentication failure');
    }
    if (grant === 'client_credentials' && !param('client_secret')) return oauthError('invalid_client', 'invalid client credentials');
    if (grant === 'refresh_token' && !sessions.isRefreshToken(param('refresh_token') ?? '')) {
      return oauthError('invalid_grant', 'expired access/refresh token');
    }
    const issuedAt = String(Date.now());
    return c.json({
      access_token: sessions.issue(),
      ...(grant === 'password' ? { refresh_token: sessions.issueRefresh() } : {}),
      signature: randomBytes(32).toString('base64'),
      scope: 'api refresh_token',
      instance_url: origin(c),
      id: identityUrl(c, store),
      token_type: 'Bearer',
      issued_at: issuedAt,
    });
  });

  app.post('/services/oauth2/revoke', async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token : (c.req.query('token') ?? '');
    if (!token || !sessions.revoke(token)) return c.json({ error: 'unsupported_token_type', error_description: 'this token type is not supported' }, 400);
    return c.body(null, 200);
  });

  app.get('/id/:orgId/:userId', (c) => {
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1] ?? c.req.query('oauth_token') ?? '';
    if (!sessions.isValid(token)) return c.text('Bad_OAuth_Token', 403);
    if (c.req.param('orgId') !== store.user.organizationId || c.req.param('userId') !== store.user.id) return c.text('Bad_Id', 404);
    const base = origin(c);
    return c.json({
      id: identityUrl(c, store),
      asserted_user: true,
      user_id: store.user.id,
      organization_id: store.user.organizationId,
      username: store.user.username,
      nick_name: 'sandbox',
      display_name: 'Sandbox User',
      email: store.user.username,
      email_verified: true,
      first_name: 'Sandbox',
      last_name: 'User',
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: 0,
      urls: {
        rest: `${base}/services/data/v{version}/`,
        sobjects: `${base}/services/data/v{version}/sobjects/`,
        query: `${base}/services/data/v{version}/query/`,
        profile: `${base}/${store.user.id}`,
      },
    });
  });

  // Deprecated by Salesforce but still jsforce's default login() without OAuth client credentials.
  app.post('/services/Soap/u/:version', async (c) => {
    const body = await c.req.text();
    const field = (name: string) => {
      const m = new RegExp(`<(?:\\w+:)?${name}>([^<]*)</(?:\\w+:)?${name}>`).exec(body);
      return m ? unescapeXml(m[1] ?? '') : undefined;
    };
    const soap = (inner: string, status: 200 | 500) =>
      c.body(
        `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`,
        status,
        { 'Content-Type': 'text/xml; charset=utf-8' },
      );
    if (!/<(?:\w+:)?login[\s>]/.test(body)) {
      return soap('<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>Only login is supported by this sandbox</faultstring></soapenv:Fault>', 500);
    }
    if (!sessions.checkUser(field('username'), field('password'))) {
      return soap(
        '<soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring></soapenv:Fault>',
        500,
      );
    }
    const version = c.req.param('version') || apiVersion;
    const serverUrl = `${origin(c)}/services/Soap/u/${version}/${store.user.organizationId.slice(0, 15)}`;
    return soap(
      `<loginResponse><result><metadataServerUrl>${escapeXml(serverUrl.replace('/u/', '/m/'))}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox>` +
        `<serverUrl>${escapeXml(serverUrl)}</serverUrl><sessionId>${escapeXml(sessions.issue())}</sessionId><userId>${store.user.id}</userId>` +
        `<userInfo><organizationId>${store.user.organizationId}</organizationId><userEmail>${escapeXml(store.user.username)}</userEmail><userFullName>Sandbox User</userFullName><userId>${store.user.id}</userId><userName>${escapeXml(store.user.username)}</userName></userInfo></result></loginResponse>`,
      200,
    );
  });
}
