// k6's twin of a simulative user (bench/agent-k6.sh): each VU logs in as the recorded user did,
// then sends the user's recorded REST requests (bench/agent -mode record) with its own token,
// at the recorded intervals, over and over: one request an iteration, so that --duration
// ends the run. Each VU starts at its own point of the session, as users that logged in at
// different times would be. Response bodies are read, as a browser's are, and not parsed;
// there is no WebSocket.
import http from 'k6/http';
import { sleep } from 'k6';

const rec = JSON.parse(open(__ENV.RECORDED));

export const options = {
  scenarios: { replay: { executor: 'constant-vus', vus: Number(__ENV.VUS || 100), duration: __ENV.DURATION || '60s', gracefulStop: '1s' } },
};

let params = null;
let next = -1; // this VU's next request

export default function () {
  if (params === null) {
    const r = http.post(`${__ENV.BASE}/api/v4/users/login`, JSON.stringify(rec.login), { headers: { 'Content-Type': 'application/json' } });
    params = { headers: { Authorization: `Bearer ${r.headers['Token']}`, 'X-Requested-With': 'XMLHttpRequest' } };
    next = Math.floor(Math.random() * rec.requests.length);
  }
  const q = rec.requests[next];
  const p = q.type ? { headers: Object.assign({ 'Content-Type': q.type }, params.headers) } : params;
  http.request(q.method, `${__ENV.BASE}${q.path}`, q.body || null, p);
  const after = rec.requests[(next + 1) % rec.requests.length];
  const wait = after.at_ms - q.at_ms;
  next = (next + 1) % rec.requests.length;
  if (wait > 0) {
    sleep(wait / 1000);
  }
}
