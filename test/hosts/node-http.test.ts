import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { toNodeListener } from "@openchs-bridge/core/node";
import { hostConformance } from "./host-conformance";

hostConformance("node:http", async (bridge) => {
  const server = createServer(toNodeListener(bridge.handler));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
