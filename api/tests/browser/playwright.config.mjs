// The dashboard in a real browser: Debian's chromium (browser downloads are
// not reachable here), one worker, in order (the steps build on each
// other), against the server scripts/dashboard.sh starts.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: "*.spec.mjs",
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 60_000,
  reporter: [["list"]],
  outputDir: process.env.DASHBOARD_OUTPUT ?? "../../../target/dashboard/results",
  use: {
    baseURL: process.env.HEARTH_URL,
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox"],
    },
    trace: "off",
  },
});
