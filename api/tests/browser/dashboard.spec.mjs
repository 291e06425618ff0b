// The admin dashboard as an admin meets it, in Debian's chromium: the
// one-time setup link, sign-in (with a password, and with an OpenID
// provider on another site), searching a user and banning them (and the
// API refusing their token), removing a post (and the API losing it), resolving
// a report from the queue, taking and
// downloading a backup, the audit log, keyboard use, and every pane
// at desktop and phone width, light and dark, checked by axe-core (no
// serious or critical violations). Screenshots go to
// target/dashboard/screenshots.
import { test, expect } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

const ADMIN = { email: "owner@example.com", username: "owner", password: "owner-password-123" };
const DEMO = { login: "demo@hearth.dev", password: "hearth-demo" };
const shots = process.env.DASHBOARD_SCREENSHOTS ?? "../../../target/dashboard/screenshots";
const setupLink = process.env.ADMIN_SETUP_LINK;
// The provider configured as "acme" (scripts/dashboard.sh starts it).
const provider = process.env.PROVIDER_URL;

test.describe.configure({ mode: "serial" });

async function graphql(request, query, variables = {}, token) {
  const response = await request.post("/graphql", {
    data: { query, variables },
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return response.json();
}

async function signIn(page) {
  await page.goto("/admin/sign-in");
  await page.getByLabel("Email or username").fill(ADMIN.username);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
}

/// No serious or critical accessibility violations on the page as it is.
async function accessible(page, what) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${what}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target).join(", ")}`)).toEqual([]);
}

test("the setup link makes the first admin, once", async ({ page }) => {
  expect(setupLink, "the server logged a setup link").toBeTruthy();
  await page.goto(setupLink);
  await expect(page.getByRole("heading", { name: "Create the first admin" })).toBeVisible();
  await accessible(page, "setup");
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Create admin and sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();

  const again = await page.goto(setupLink);
  expect(again.status()).toBe(404);
  await expect(page.getByText("this setup link is used or expired")).toBeVisible();
});

test("an admin signs in, finds a user and bans them; the API refuses their token", async ({ page, request }) => {
  const signedIn = await graphql(
    request,
    "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
    { input: { ...DEMO, device: { name: "phone", secret: "browser-test-device-secret" } } },
  );
  const token = signedIn.data.signIn.accessToken;
  const me = "{ me { profile { username } } }";
  expect((await graphql(request, me, {}, token)).data.me.profile.username).toBe("demo");

  await page.goto("/admin");
  await expect(page).toHaveURL(/\/admin\/sign-in\?next=/);
  await accessible(page, "sign-in");
  await signIn(page);
  // The overview reads its traffic from the metrics the server keeps.
  await expect(page.getByText("Requests per second")).toBeVisible();

  await page.getByRole("link", { name: "Users" }).click();
  await page.getByLabel("Email, username or id").fill("demo@hearth");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: "demo", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "User demo" })).toBeVisible();
  await expect(page.getByRole("cell", { name: "phone", exact: true })).toBeVisible();

  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Ban", exact: true }).click();
  await expect(page.getByRole("status")).toContainText("Banned");
  await expect(page.getByRole("button", { name: "Unban" })).toBeVisible();

  const refused = await graphql(request, me, {}, token);
  expect(refused.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

  await page.getByRole("link", { name: "Audit log" }).click();
  const log = page.getByRole("table");
  await expect(log).toContainText("user.ban");
  await expect(log).toContainText("banned demo");
  await expect(log).toContainText("admin.sign_in");
  await expect(log).toContainText("admin.setup");

  // Undo, so the demo account works for the rest of the run.
  await page.goto("/admin/users?q=demo%40hearth.dev");
  await page.getByRole("link", { name: "demo", exact: true }).click();
  await page.getByRole("button", { name: "Unban" }).click();
  await expect(page.getByRole("status")).toContainText("Unbanned");
});

test("an admin removes a post; the API no longer has it", async ({ page, request }) => {
  const signedIn = await graphql(
    request,
    "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
    { input: { ...DEMO, device: { name: "laptop", secret: "browser-test-device-secret-2" } } },
  );
  const token = signedIn.data.signIn.accessToken;
  const made = await graphql(request, 'mutation { createPost(input: { body: "spam to be removed by the browser test" }) { id } }', {}, token);
  const id = made.data.createPost.id;
  const read = "query($id: ID!) { post(id: $id) { id } }";
  expect((await graphql(request, read, { id }, token)).data.post.id).toBe(id);

  await signIn(page);
  await page.getByRole("link", { name: "Content", exact: true }).click();
  await page.getByLabel("Text contains").fill("spam to be removed");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("button", { name: /^Remove the post by demo/ }).click();
  await expect(page.getByRole("status")).toContainText("Removed");
  await expect(page.getByRole("cell", { name: "removed", exact: true })).toBeVisible();
  expect((await graphql(request, read, { id }, token)).data.post).toBeNull();

  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(page.getByRole("table")).toContainText("post.remove");
});

test("an admin takes a backup and it is listed for download", async ({ page }) => {
  await signIn(page);
  await page.getByRole("link", { name: "Backups" }).click();
  await page.getByRole("button", { name: "Create a backup now" }).click();
  await expect(page.getByRole("status")).toContainText("Backup taken");
  const link = page.getByRole("link", { name: /^hearth-.*\.db$/ }).first();
  await expect(link).toBeVisible();
  const download = page.waitForEvent("download");
  await link.click();
  expect((await download).suggestedFilename()).toMatch(/^hearth-.*\.db$/);
  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(page.getByRole("table")).toContainText("backup.create");
  await expect(page.getByRole("table")).toContainText("backup.download");
});

test("a cancelled confirmation changes nothing", async ({ page }) => {
  await signIn(page);
  await page.goto("/admin/users?q=demo%40hearth.dev");
  await page.getByRole("link", { name: "demo", exact: true }).click();
  page.once("dialog", (dialog) => dialog.dismiss());
  await page.getByRole("button", { name: "Ban", exact: true }).click();
  await expect(page.getByRole("button", { name: "Ban", exact: true })).toBeVisible();
  await expect(page.getByRole("status")).toHaveCount(0);
});

test("keyboard only: skip link, navigation, search", async ({ page }) => {
  await signIn(page);
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  await page.keyboard.press("Enter");
  await page.goto("/admin");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Users" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  await page.getByLabel("Email, username or id").focus();
  await page.keyboard.type("demo");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/q=demo/);
});

test("an admin works through the reports queue", async ({ page, request }) => {
  // The demo account reports two posts by others.
  const signedIn = await graphql(
    request,
    "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
    { input: { ...DEMO, device: { name: "reporter", secret: "browser-test-reporter-secret" } } },
  );
  const token = signedIn.data.signIn.accessToken;
  const listed = await graphql(request, "{ posts(first: 20) { edges { node { id body author { username } } } } }", {}, token);
  const theirs = listed.data.posts.edges.map((e) => e.node).filter((p) => p.author.username !== "demo").slice(0, 2);
  expect(theirs.length).toBe(2);
  const report = "mutation($t: ID!) { report(input: { targetId: $t, reason: SPAM, note: \"looks automated\" }) { id } }";
  for (const post of theirs) {
    const filed = await graphql(request, report, { t: post.id }, token);
    expect(filed.errors).toBeUndefined();
  }

  await signIn(page);
  await page.getByRole("link", { name: "Reports" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Reports" })).toBeVisible();
  const row = page.getByRole("row").filter({ hasText: theirs[0].body.slice(0, 40) });
  await row.getByLabel("Action").selectOption({ label: "Dismiss" });
  await row.getByLabel("Note to the reporters").fill("not spam, just enthusiastic");
  await row.getByRole("button", { name: "Resolve" }).click();
  await expect(page.getByRole("status")).toContainText("Resolved");
  // The other stays open for the screenshots below.
  await expect(page.getByRole("row").filter({ hasText: theirs[1].body.slice(0, 40) })).toBeVisible();

  await page.getByRole("link", { name: "Resolved" }).click();
  const resolved = page.getByRole("table");
  await expect(resolved).toContainText("Dismiss");
  await expect(resolved).toContainText("by owner");
  const mine = await graphql(request, "{ myReports(first: 5) { edges { node { action resolutionNote } } } }", {}, token);
  const outcomes = mine.data.myReports.edges.map((e) => e.node.action);
  expect(outcomes.sort()).toEqual(["DISMISSED", null].sort());
});

for (const [name, width, height] of [["desktop", 1280, 900], ["phone", 390, 844]]) {
  for (const scheme of ["light", "dark"]) {
    test(`every pane at ${name} width (${width} px), ${scheme}: screenshots and axe`, async ({ page }) => {
      // Seventeen panes, each screenshotted and run through axe: a minute
      // on two busy cores, past the default budget for one test.
      test.setTimeout(180_000);
      await page.setViewportSize({ width, height });
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto("/admin/sign-in");
      await page.screenshot({ path: `${shots}/sign-in-${width}-${scheme}.png`, fullPage: true });
      await signIn(page);
      const demo = await page.goto("/admin/users?q=demo%40hearth.dev");
      expect(demo.status()).toBe(200);
      const userHref = await page.getByRole("link", { name: "demo", exact: true }).getAttribute("href");
      await page.goto("/admin/content?kind=communities");
      const communityHref = await page.locator('table a[href^="/admin/communities/"]').first().getAttribute("href");
      for (const [pane, path] of [["overview", "/admin"], ["users", "/admin/users"], ["user", userHref], ["content", "/admin/content"], ["comments", "/admin/content?kind=comments"], ["reports", "/admin/reports"], ["resolved", "/admin/reports?resolved=1"], ["communities", "/admin/content?kind=communities"], ["community", communityHref], ["files", "/admin/files"], ["backups", "/admin/backups"], ["webhooks", "/admin/webhooks"], ["data", "/admin/data"], ["table", "/admin/data/users"], ["audit", "/admin/audit"], ["settings", "/admin/settings"]]) {
        const response = await page.goto(path);
        expect(response.status(), pane).toBe(200);
        // Nothing wider than the screen but the tables' own scrollers.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${pane} fits ${width} px`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: `${shots}/${pane}-${width}-${scheme}.png`, fullPage: true });
        await accessible(page, `${pane} at ${width} px, ${scheme}`);
      }
    });
  }
}

// Needs only the admin from the first test; last, as a failure in a serial
// run skips every test after it.
test("an admin signs in with a provider in the browser", async ({ page, request }) => {
  expect(provider, "the provider is running").toBeTruthy();
  // Acme vouches for the admin's email; the account's is verified too (the
  // setup link makes it so), so the identity joins the account.
  const acme = { sub: "acme-owner", email: ADMIN.email, email_verified: true, name: "Owner", password: "acme-password-123" };
  expect((await request.post(`${provider}/test/people`, { data: acme })).status()).toBe(200);

  // What a Content-Security-Policy blocks shows only on the console.
  const blocked = [];
  page.on("console", (m) => { if (m.text().includes("Content Security Policy")) blocked.push(m.text()); });

  // A fresh context: no dashboard cookie yet.
  expect(await page.context().cookies()).toEqual([]);
  await page.goto("/admin/sign-in");
  const acmeButton = page.getByRole("button", { name: "Continue with Acme" });
  await expect(acmeButton).toBeVisible();
  await acmeButton.click();

  const atProvider = (url) => url.origin === provider && url.pathname.startsWith("/interaction/");
  await page.waitForURL(atProvider, { timeout: 10_000 }).catch(() => {});
  expect(blocked, "nothing blocked on the way to the provider").toEqual([]);
  await expect(page).toHaveURL(atProvider);
  await page.getByLabel("Email").fill(acme.email);
  await page.getByLabel("Password").fill(acme.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Allow access" })).toBeVisible();
  const callback = page.waitForResponse((r) => new URL(r.url()).pathname === "/admin/oauth/callback");
  await page.getByRole("button", { name: "Allow" }).click();
  // The callback answers a page that moves on by itself, so the Strict
  // session cookie it sets goes with a same-site navigation.
  expect((await callback).status()).toBe(200);

  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  await expect(page).toHaveURL(new URL("/admin", process.env.HEARTH_URL).href);
  expect(blocked).toEqual([]);
  await page.screenshot({ path: `${shots}/provider-signed-in.png`, fullPage: true });
  const cookies = await page.context().cookies();
  expect(cookies.find((c) => c.name === "hearth_admin")?.sameSite).toBe("Strict");
  expect(cookies.find((c) => c.name === "hearth_admin_oauth"), "the flow cookie is spent").toBeUndefined();

  await page.goto(`/admin/users?q=${encodeURIComponent(ADMIN.email)}`);
  await page.getByRole("link", { name: ADMIN.username, exact: true }).click();
  await expect(page.getByText(`acme: ${ADMIN.email}`)).toBeVisible();
});
