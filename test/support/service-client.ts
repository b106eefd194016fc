/** Logs in against a service process over real HTTP and returns the access token. */
export async function loginTo(url: string, credentials: { username: string; password: string }): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(credentials),
  });
  if (res.status !== 200) throw new Error(`login as ${credentials.username} answered ${res.status}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}
