import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { hostConformance } from "../../conformance/host-conformance";
import { createApp } from "./app";

hostConformance(
  "hono",
  async (bridge) => {
    const { port, server } = await new Promise<{ port: number; server: ReturnType<typeof serve> }>((resolve) => {
      const s = serve({ fetch: createApp(bridge).fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) =>
        resolve({ port: info.port, server: s }),
      );
    });
    return {
      origin: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  { ownRoute: true },
);
