// Drives a server's WebSocket with Mattermost's official JavaScript client
// (@mattermost/client's WebSocketClient, the webapp's own), as an outside tester would:
// it connects with the authentication challenge, waits for hello, then sends every action
// the webapp and the apps send and prints one JSON line per reply:
// RESULT {"action": ..., "reply": {...}}, then RESULT {"done": true, "events": [...]}, and exits.
// Usage: node official-ws.js WS_URL TOKEN CHANNEL_ID USER_ID  (the TestOfficialJSClient test runs it)
'use strict';

const WS = require('ws');

// Node 20 has no WebSocket or CloseEvent globals; the client reads WebSocket.OPEN.
globalThis.WebSocket = WS;
globalThis.CloseEvent ??= class CloseEvent extends Event {
    constructor(type, init = {}) {
        super(type);
        this.code = init.code;
        this.wasClean = init.wasClean;
    }
};

const {WebSocketClient} = require('@mattermost/client');

const [url, token, channelId, userId] = process.argv.slice(2);
const client = new WebSocketClient({newWebSocketFn: (u) => new WS(u)});
const events = [];
// The client logs to the console too; our lines start with RESULT.
const out = (o) => process.stdout.write('RESULT ' + JSON.stringify(o) + '\n');
const reply = (action, send) => new Promise((resolve) => send((msg) => {
    out({action, reply: msg});
    resolve(msg);
}));

const timer = setTimeout(() => {
    out({error: 'timed out', events});
    process.exit(2);
}, 10000);

client.addMessageListener(async (msg) => {
    events.push(msg.event);
    if (msg.event !== 'hello') {
        return;
    }
    await reply('ping', (cb) => client.ping(cb));
    await reply('get_statuses', (cb) => client.getStatuses(cb));
    await reply('get_statuses_by_ids', (cb) => client.getStatusesByIds([userId], cb));
    await reply('user_update_active_status', (cb) => client.userUpdateActiveStatus(false, false, cb));
    await reply('get_statuses_by_ids', (cb) => client.getStatusesByIds([userId], cb));
    await reply('user_update_active_status', (cb) => client.userUpdateActiveStatus(true, false, cb));
    await reply('user_typing', (cb) => client.userTyping(channelId, '', cb));
    await reply('presence', (cb) => client.updateActiveChannel(channelId, cb));
    await reply('presence', (cb) => client.updateActiveThread(true, channelId, cb));
    await reply('user_typing', (cb) => client.userTyping('nope', '', cb));
    await reply('get_statuses_by_ids', (cb) => client.getStatusesByIds([], cb));
    await reply('posted_notify_ack', (cb) => client.sendMessage('posted_notify_ack', {post_id: 'abcdefghijklmnopqrstuvwxyz', status: 'successful'}, cb));
    clearTimeout(timer);
    out({done: true, events});
    client.close();
    process.exit(0);
});

client.initialize(url, token);
