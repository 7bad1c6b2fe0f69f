import type { AddressInfo } from "node:net";
import { hostConformance } from "../../../test/hosts/host-conformance";
import { createApp } from "./app";
import { serveHono } from "./node-server";

hostConformance(
  "hono",
  async (bridge) => {
    const server = await serveHono(createApp(bridge), { port: 0, hostname: "127.0.0.1" });
    const { port } = server.address() as AddressInfo;
    return {
      origin: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  { ownRoute: true },
);
