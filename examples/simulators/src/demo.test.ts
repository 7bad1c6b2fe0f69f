import { describe, expect, it } from "vitest";
import { runDemo } from "./demo";

describe("npm run demo", () => {
  it("plays the whole conversation against the simulators and the real gateway", async () => {
    const lines: string[] = [];
    const summary = await runDemo({ out: (line) => lines.push(line), huntTimeoutS: 1 });
    expect(summary).toMatchObject({
      toHelpline: 2,
      duplicatesAtHelpline: 0,
      toChild: 2,
      reNotifications: 1,
      deadLetters: 0,
      finalState: "closed",
      closedBy: "helpline",
      handedBackToBot: true,
    });
    expect(summary.retries).toBeGreaterThanOrEqual(1);
    expect(summary.acksToChatbot).toBeGreaterThanOrEqual(2);
    const transcript = lines.join("\n");
    expect(transcript).toContain("state → hunting");
    expect(transcript).toContain("re-notifying the helpline (1/2)");
    expect(transcript).toContain("state → connected");
    expect(transcript).toContain("state → closed by helpline");
    expect(transcript).toContain("Summary");
  }, 30_000);
});
