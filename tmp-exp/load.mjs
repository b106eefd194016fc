const url = process.argv[2];
const conns = Number(process.argv[3] ?? 200);
const backoff = process.argv[4] === 'backoff';
const login = await fetch(`${url}/api/auth/login`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password: 'admin-password-123' }),
});
const { accessToken } = await login.json();
const h = { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' };
await fetch(`${url}/api/products`, { method: 'POST', headers: h, body: JSON.stringify({ sku: 'L-1', name: 'x' }) });
const res = {};
const lat = { 201: [], 503: [] };
const end = Date.now() + 3000;
await Promise.all(
  Array.from({ length: conns }, async () => {
    while (Date.now() < end) {
      const t = performance.now();
      const r = await fetch(`${url}/api/stock/in`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ sku: 'L-1', quantity: 1 }),
      });
      await r.text();
      (lat[r.status] ??= []).push(performance.now() - t);
      res[r.status] = (res[r.status] ?? 0) + 1;
      if (r.status === 503 && backoff) await new Promise((r) => setTimeout(r, 1000 * (0.5 + Math.random())));
    }
  }),
);
const p = (a, q) => {
  a = [...a].sort((x, y) => x - y);
  return a.length ? a[Math.min(a.length - 1, Math.floor((q / 100) * a.length))].toFixed(1) : '-';
};
console.log(
  JSON.stringify(res),
  '201 p50',
  p(lat[201], 50),
  'p99',
  p(lat[201], 99),
  '503 p50',
  p(lat[503], 50),
  'p99',
  p(lat[503], 99),
);
const m = await (await fetch(`${url}/metrics`, { headers: h })).text();
console.log(
  m
    .split('\n')
    .filter(
      (l) =>
        /in_flight|shed|duration_seconds_(sum|count).*stock\/in|group_writes_(sum|count)|lock_wait_seconds_(sum|count)/.test(
          l,
        ) && !l.startsWith('#'),
    )
    .join('\n'),
);
