import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";

/**
 * A loopback TCP relay in front of the gateway that keeps the bytes each client connection sent:
 * how the suite sees exactly what the real PHP client (curl) put on the wire.
 */
export interface RecordingProxy {
  port: number;
  /** The bytes each connection sent, in connection order. */
  connections: Buffer[];
  close(): Promise<void>;
}

export async function startRecordingProxy(targetPort: number): Promise<RecordingProxy> {
  const connections: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const index = connections.push(Buffer.alloc(0)) - 1;
    const upstream = connect({ port: targetPort, host: "127.0.0.1" });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", (chunk: Buffer) => {
      connections[index] = Buffer.concat([connections[index]!, chunk]);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
