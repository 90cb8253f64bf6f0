// Loopback stand-ins for what nginx proxies to in the script tests (kube-apiservers behind a load balancer or a
// node's proxy): each answers every message with its own address, so a test sees which one a request reached.
import { type Server, type Socket, connect, createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Echo servers on one port of several loopback addresses (127.0.0.2, …); stop() drops their connections too. */
export class EchoBackends {
  readonly servers = new Map<string, Server>();
  readonly sockets = new Map<string, Set<Socket>>();
  constructor(readonly port: number) {}

  async start(address: string): Promise<void> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('data', (data) => socket.write(`${address} ${data.toString()}`));
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ port: this.port, host: address, backlog: 2048 }, resolve));
    this.servers.set(address, server);
    this.sockets.set(address, sockets);
  }

  async stop(address: string): Promise<void> {
    const server = this.servers.get(address);
    for (const socket of this.sockets.get(address) ?? []) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    this.servers.delete(address);
  }

  async stopAll(): Promise<void> {
    for (const address of [...this.servers.keys()]) await this.stop(address);
  }
}

/** One short request to 127.0.0.1:port: the address of the backend that answered, or undefined on failure or timeout. */
export function whoAnswers(port: number, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, timeoutMs);
    socket.on('connect', () => socket.write('ping'));
    socket.on('data', (data) => {
      clearTimeout(timer);
      socket.end();
      resolve(data.toString().split(' ')[0]);
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}
