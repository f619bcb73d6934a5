import { Hono } from 'hono';
import { invalidRequest, noSuch } from '../errors.js';
import { isEventType } from '../event-types.js';
import { params, send, sendList, type Env, type SandboxContext } from '../http.js';
import { applyMetadata, emptyMetadata } from '../params.js';
import type { EventRecord, WebhookEndpointRecord } from '../records.js';
import { renderEvent, renderWebhookEndpoint } from '../render.js';
import { eventList, webhookEndpointCreate, webhookEndpointList, webhookEndpointUpdate } from '../specs.js';

/** Stripe allows 16 webhook endpoints per account and mode. */
const MAX_ENDPOINTS = 16;

function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidRequest(`Invalid URL: ${url}`, { param: 'url', code: 'url_invalid' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidRequest(`Invalid URL: ${url}. URLs must begin with http:// or https://`, { param: 'url', code: 'url_invalid' });
  }
}

function checkEvents(events: string[]): void {
  if (events.length === 0) throw invalidRequest('Missing required param: enabled_events.', { param: 'enabled_events', code: 'parameter_missing' });
  events.forEach((type, i) => {
    if (type !== '*' && !isEventType(type)) {
      throw invalidRequest(`Invalid enabled_events[${i}]: must be one of the event types the API supports, or '*'. Received: ${type}`, {
        param: `enabled_events[${i}]`,
      });
    }
  });
}

function checkApiVersion(version: string): void {
  if (!/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(version)) {
    throw invalidRequest(`Invalid API version: ${version}`, { param: 'api_version' });
  }
}

/** `customer.*` style prefixes are allowed in the events list `type` filter. */
function typeMatcher(type: string): (e: EventRecord) => boolean {
  if (type.endsWith('.*')) {
    const prefix = type.slice(0, -1);
    return (e) => e.type.startsWith(prefix);
  }
  return (e) => e.type === type;
}

export function eventRoutes({ state: s, webhooks }: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();

  // Stripe lists 30 days of events; the sandbox keeps them all, since test-clock events carry
  // simulated times that a window on the wall clock would hide.
  app.get('/events', (c) => {
    const { params: p, expand } = params(c, eventList);
    if (p.type !== undefined && p.types !== undefined) {
      throw invalidRequest('You may only specify one of these parameters: type, types.', { param: 'types' });
    }
    const byType = p.type !== undefined && !p.type.includes('*') ? s.events.where('type', p.type) : s.events.all();
    const matchType = p.type !== undefined ? typeMatcher(p.type) : null;
    const types = p.types ? new Set(p.types) : null;
    // delivery_success=false: events with a delivery that failed (or is being retried after failing).
    const failed =
      p.delivery_success !== undefined
        ? new Set(
            webhooks
              .list()
              .filter((d) => d.status === 'failed' || (d.status === 'pending' && d.attempts.length > 0))
              .map((d) => d.event),
          )
        : null;
    return sendList(c, s, {
      url: '/v1/events',
      rows: byType,
      query: p,
      lookup: (id) => s.events.get(id),
      kind: 'event',
      filter: (e) =>
        (matchType === null || matchType(e)) &&
        (types === null || types.has(e.type)) &&
        (failed === null || failed.has(e.id) !== p.delivery_success),
      render: renderEvent,
      expand,
    });
  });

  app.get('/events/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderEvent(s.events.require(c.req.param('id'))), expand);
  });

  app.post('/webhook_endpoints', (c) => {
    const { params: p, expand } = params(c, webhookEndpointCreate);
    checkUrl(p.url);
    checkEvents(p.enabled_events);
    if (p.api_version !== undefined) checkApiVersion(p.api_version);
    if (s.webhookEndpoints.size >= MAX_ENDPOINTS) {
      throw invalidRequest(`You have reached the maximum of ${MAX_ENDPOINTS} test webhook endpoints.`, { param: 'url' });
    }
    const endpoint: WebhookEndpointRecord = {
      id: s.ids.next('we'),
      created: s.realNow(),
      seq: s.nextSeq(),
      url: p.url,
      enabledEvents: p.enabled_events,
      description: p.description ?? null,
      metadata: applyMetadata(emptyMetadata(), p.metadata),
      secret: `whsec_${s.ids.chars(32)}`,
      status: 'enabled',
      apiVersion: p.api_version ?? null,
    };
    s.webhookEndpoints.insert(endpoint);
    return send(c, s, renderWebhookEndpoint(endpoint, true), expand);
  });

  app.get('/webhook_endpoints', (c) => {
    const { params: p, expand } = params(c, webhookEndpointList);
    return sendList(c, s, {
      url: '/v1/webhook_endpoints',
      rows: s.webhookEndpoints.all(),
      query: p,
      lookup: (id) => s.webhookEndpoints.get(id),
      kind: 'webhook_endpoint',
      render: (r) => renderWebhookEndpoint(r),
      expand,
    });
  });

  app.get('/webhook_endpoints/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderWebhookEndpoint(s.webhookEndpoints.require(c.req.param('id'))), expand);
  });

  app.post('/webhook_endpoints/:id', (c) => {
    const { params: p, expand } = params(c, webhookEndpointUpdate);
    const endpoint = s.webhookEndpoints.require(c.req.param('id'));
    if (p.url !== undefined) checkUrl(p.url);
    if (p.enabled_events !== undefined) checkEvents(p.enabled_events);
    if (p.url !== undefined) endpoint.url = p.url;
    if (p.enabled_events !== undefined) endpoint.enabledEvents = p.enabled_events;
    if (p.description !== undefined) endpoint.description = p.description;
    if (p.metadata !== undefined) endpoint.metadata = applyMetadata(endpoint.metadata, p.metadata);
    if (p.disabled !== undefined) endpoint.status = p.disabled ? 'disabled' : 'enabled';
    return send(c, s, renderWebhookEndpoint(endpoint), expand);
  });

  app.delete('/webhook_endpoints/:id', (c) => {
    params(c, {});
    const endpoint = s.webhookEndpoints.get(c.req.param('id'));
    if (!endpoint) throw noSuch('webhook endpoint', c.req.param('id'));
    s.webhookEndpoints.remove(endpoint.id);
    webhooks.cancel((d) => d.endpoint === endpoint.id);
    return c.json({ id: endpoint.id, object: 'webhook_endpoint', deleted: true });
  });

  return app;
}
