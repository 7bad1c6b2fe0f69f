import type { AddressInfo } from "node:net";
import { hostConformance } from "../../../test/hosts/host-conformance";
import { createApp } from "./app";

hostConformance(
  "express",
  async (bridge) => {
    const server = createApp(bridge).listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => server.once("listening", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      origin: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  { ownRoute: true },
);
