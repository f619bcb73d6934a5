import { Hono } from 'hono';
import { params, send, sendList, type Env, type SandboxContext } from '../http.js';
import { renderTestClock } from '../render.js';
import { testClockAdvance, testClockCreate, testClockList } from '../specs.js';

export function testClockRoutes({ state: s, clocks }: SandboxContext): Hono<Env> {
  const app = new Hono<Env>();

  app.post('/test_helpers/test_clocks', (c) => {
    const { params: p, expand } = params(c, testClockCreate);
    return send(c, s, renderTestClock(clocks.create(p.frozen_time, p.name ?? null)), expand);
  });

  app.get('/test_helpers/test_clocks', (c) => {
    const { params: p, expand } = params(c, testClockList);
    return sendList(c, s, {
      url: '/v1/test_helpers/test_clocks',
      rows: s.testClocks.all(),
      query: p,
      lookup: (id) => s.testClocks.get(id),
      kind: 'test_helpers.test_clock',
      render: renderTestClock,
      expand,
    });
  });

  app.get('/test_helpers/test_clocks/:id', (c) => {
    const { expand } = params(c, {});
    return send(c, s, renderTestClock(s.testClocks.require(c.req.param('id'))), expand);
  });

  app.post('/test_helpers/test_clocks/:id/advance', (c) => {
    const { params: p, expand } = params(c, testClockAdvance);
    const clock = s.testClocks.require(c.req.param('id'));
    clocks.advance(clock, p.frozen_time);
    return send(c, s, renderTestClock(clock), expand);
  });

  app.delete('/test_helpers/test_clocks/:id', (c) => {
    params(c, {});
    const clock = s.testClocks.require(c.req.param('id'));
    clocks.delete(clock);
    return c.json({ id: clock.id, object: 'test_helpers.test_clock', deleted: true });
  });

  return app;
}
