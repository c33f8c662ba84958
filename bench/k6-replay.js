// k6's twin of a simulative user (bench/agent-k6.sh): each VU logs in as the recorded user did,
// then sends the user's recorded REST requests (bench/agent -mode record) with its own token,
// at the recorded times, over and over. Response bodies are read, as a browser's are, and
// not parsed; there is no WebSocket.
import http from 'k6/http';
import { sleep } from 'k6';

const rec = JSON.parse(open(__ENV.RECORDED));

export const options = { vus: Number(__ENV.VUS || 100), duration: __ENV.DURATION || '60s', noCookiesReset: true };

let token = '';
let params = null;

export default function () {
  if (token === '') {
    const r = http.post(`${__ENV.BASE}/api/v4/users/login`, JSON.stringify(rec.login), { headers: { 'Content-Type': 'application/json' } });
    token = r.headers['Token'];
    params = { headers: { Authorization: `Bearer ${token}`, 'X-Requested-With': 'XMLHttpRequest' } };
  }
  // Each VU starts at its own point of the session, as users that logged in at different
  // times would be, so the VUs do not send the same request in the same millisecond.
  const offset = Math.floor(Math.random() * rec.requests.length);
  let last = rec.requests[offset].at_ms;
  for (let i = 0; i < rec.requests.length; i++) {
    const q = rec.requests[(offset + i) % rec.requests.length];
    const wait = q.at_ms - last;
    if (wait > 0) {
      sleep(wait / 1000);
    }
    last = q.at_ms;
    const p = q.type ? { headers: Object.assign({ 'Content-Type': q.type }, params.headers) } : params;
    http.request(q.method, `${__ENV.BASE}${q.path}`, q.body || null, p);
  }
}
