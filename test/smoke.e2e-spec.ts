import { bearer, startTestApp, TestApp } from './support/test-app';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('logs in and lists warehouses with MAIN', async () => {
    const res = await t.http.get('/api/warehouses').set(bearer(t.tokens.viewer)).expect(200);
    expect(res.body.items.map((w: { code: string }) => w.code)).toEqual(['MAIN']);
  });
});
