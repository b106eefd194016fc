import autocannon from 'autocannon';
const url = process.argv[2];
const login = await fetch(`${url}/api/auth/login`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password: 'admin-password-123' }),
});
const { accessToken } = await login.json();
const r = await autocannon({
  url: `${url}/api/auth/me`,
  headers: { Authorization: `Bearer ${accessToken}` },
  connections: 32,
  duration: 8,
});
console.log(process.argv[3], 'req/s', r.requests.average);
