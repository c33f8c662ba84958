// k6's twin of the agent's noop user in bench/agent.sh: GET /api/v4/users/me back to back.
import http from 'k6/http';

export const options = { vus: Number(__ENV.VUS || 32), duration: __ENV.DURATION || '10s', discardResponseBodies: true };

const params = { headers: { Authorization: `Bearer ${__ENV.TOKEN}` } };

export default function () {
  http.get(`${__ENV.BASE}/api/v4/users/me`, params);
}
