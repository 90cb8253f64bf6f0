// Runs inside one load balancer's network namespace (ip netns exec … node lb-peer.mjs MODE …), where the
// pair's harness in the root namespace cannot reach 127.0.0.1. Plain JavaScript so that it starts without tsx.
//   backend PORT            an echo server standing in for kube-apiserver on 127.0.0.1:PORT
//   watch PORT              asks nginx's health server every 20 ms; prints "<epoch ms> up|down" on each change
//   load PORT PER_SECOND    short requests through nginx; prints "<epoch ms> ok N failed M" every second
//   hold PORT               one long-lived connection (a watch) pinged every 100 ms; prints "<epoch ms> broken" if it
//                           breaks, and every second "gap N": the longest wait for an answer in that second
import { connect, createServer } from 'node:net';

const [mode, portText, rateText] = process.argv.slice(2);
const port = Number(portText);
const say = (line) => process.stdout.write(`${Date.now()} ${line}\n`);

function ask(timeoutMs, payload) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (answer) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('connect', () => payload && socket.write(payload));
    socket.on('data', (data) => done(data.toString()));
    socket.on('error', () => done(undefined));
  });
}

if (mode === 'backend') {
  createServer((socket) => {
    socket.on('data', (data) => socket.write(data));
    socket.on('error', () => undefined);
  }).listen(port, '127.0.0.1', () => say('listening'));
} else if (mode === 'watch') {
  let last;
  for (;;) {
    const answer = await ask(200);
    const now = answer?.startsWith('ok') ? 'up' : 'down';
    if (now !== last) say(now);
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
} else if (mode === 'load') {
  const perSecond = Number(rateText);
  let ok = 0;
  let failed = 0;
  setInterval(() => {
    say(`ok ${ok} failed ${failed}`);
    ok = 0;
    failed = 0;
  }, 1000);
  setInterval(() => {
    void ask(2000, 'ping').then((answer) => (answer === 'ping' ? ok++ : failed++));
  }, 1000 / perSecond);
} else if (mode === 'hold') {
  const socket = connect(port, '127.0.0.1');
  let pending = 0;
  let lastAnswer = Date.now();
  let longest = 0;
  socket.on('connect', () => {
    say('open');
    setInterval(() => {
      if (pending > 10) say('broken');
      pending++;
      socket.write('ping');
    }, 100);
    setInterval(() => {
      say(`gap ${Math.max(longest, Date.now() - lastAnswer)}`);
      longest = 0;
    }, 1000);
  });
  socket.on('data', () => {
    longest = Math.max(longest, Date.now() - lastAnswer);
    lastAnswer = Date.now();
    pending = 0;
  });
  socket.on('close', () => say('broken'));
  socket.on('error', () => say('broken'));
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
