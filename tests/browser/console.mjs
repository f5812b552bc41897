// The admin console in a real browser: Debian's Chromium, driven by Playwright.
// Run by tests/api/console_browser.rs, which starts the server and checks what the browser
// did from the outside. Two phases share one signed-in browser profile (storage state):
//
//   setup:   sign in as a platform admin, create an organisation, upload the IdP metadata
//            file and see its certificate, issue a SCIM token and see it once (printed as
//            TOKEN=... for the test to use);
//   offboard: find a user, deactivate it, download the event log as CSV;
//   webhook:  add a webhook endpoint and see its secret once (printed as SECRET=...), then
//             send it a test message and see that it was delivered;
//   signin:   (no admin) an end user's email at /login leads the browser to its IdP.
//
// Configuration comes from the environment: BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD,
// STATE_FILE, and per phase METADATA_FILE, IDP_ENTITY_ID, CERT_SUBJECT / USER_NAME, CSV_FILE /
// WEBHOOK_URL.
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("BASE_URL");

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

function expect(condition, what) {
  if (!condition) throw new Error(`expected ${what}`);
}

async function setup(page) {
  await page.goto(`${base}/admin/login`);
  await page.getByLabel("Email").first().fill(env("ADMIN_EMAIL"));
  await page.getByLabel("Password").fill(env("ADMIN_PASSWORD"));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(`${base}/admin/orgs`);

  await page.locator("input[name=slug]").fill("acme");
  await page.locator("input[name=name]").fill("Acme Corp");
  await page.locator("input[name=domains]").fill("acme.test");
  await page.getByRole("button", { name: "Create organisation" }).click();
  await page.waitForURL(`${base}/admin/orgs/acme`);

  await page.locator("#saml-metadata-file").setInputFiles(env("METADATA_FILE"));
  await page.getByRole("button", { name: "Save SAML connection" }).click();
  await page.waitForURL((url) => url.pathname === "/admin/orgs/acme" && url.hash === "#saml");
  const text = await page.locator("main").innerText();
  expect(text.includes(env("IDP_ENTITY_ID")), `the IdP entity ID on the page:\n${text}`);
  expect(text.includes(env("CERT_SUBJECT")), `the certificate's subject on the page:\n${text}`);

  await page.locator("input[name=description]").fill("Okta provisioning");
  await page.getByRole("button", { name: "Issue token" }).click();
  const secret = (await page.locator("#new-token-secret").innerText()).trim();
  expect(secret.startsWith("ghs_"), `a token secret, got ${secret}`);
  await page.goto(`${base}/admin/orgs/acme`);
  expect((await page.locator("#new-token-secret").count()) === 0, "the secret shown only once");
  expect((await page.content()).includes(secret.slice(0, 10)), "the token's prefix in the list");
  expect(!(await page.content()).includes(secret), "no secret in the list");
  console.log(`TOKEN=${secret}`);
}

async function offboard(page) {
  const userName = env("USER_NAME");
  await page.goto(`${base}/admin/orgs/acme/users`);
  await page.locator("input[name=q]").fill(userName.split("@")[0]);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: userName }).click();
  await page.getByRole("button", { name: "Deactivate" }).click();
  await page.getByRole("button", { name: "Reactivate" }).waitFor();

  await page.goto(`${base}/admin/orgs/acme/events`);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download CSV" }).click(),
  ]);
  await download.saveAs(env("CSV_FILE"));
}

async function webhook(page) {
  await page.goto(`${base}/admin/orgs/acme/webhooks`);
  await page.locator("input[name=url]").fill(env("WEBHOOK_URL"));
  await page.locator("input[name=description]").fill("The app");
  await page.getByRole("button", { name: "Add webhook" }).click();
  const secret = (await page.locator("#webhook-secret").innerText()).trim();
  expect(secret.startsWith("whsec_"), `a webhook secret, got ${secret}`);
  await page.goto(`${base}/admin/orgs/acme/webhooks`);
  expect((await page.locator("#new-secret").count()) === 0, "the secret shown only once");
  expect(!(await page.content()).includes(secret), "no secret on the page after");
  await page.getByRole("button", { name: "Send a test" }).click();
  const notice = await page.getByRole("status").innerText();
  expect(notice.includes("The test message was delivered"), `the test delivered, got ${notice}`);
  console.log(`SECRET=${secret}`);
}

// An end user at the sign-in page is sent on to its organisation's IdP (which answers
// "IdP sign-in page" here); no CSP directive may stop that redirect.
async function signin(page) {
  await page.goto(`${base}/login`);
  await page.getByLabel("Work email").fill(env("SIGNIN_EMAIL"));
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL((url) => url.href.startsWith(env("IDP_SSO_URL")));
  expect((await page.content()).includes("IdP sign-in page"), "the IdP's page");
}

const phase = process.argv[2];
const browser = await launch();
const stateFile = env("STATE_FILE");
const context = await browser.newContext(
  ["offboard", "webhook"].includes(phase)
    ? { acceptDownloads: true, storageState: stateFile }
    : { acceptDownloads: true },
);
const page = await context.newPage();
page.setDefaultTimeout(15000);
const problems = [];
// What the console must never cause: a CSP violation, or a script error.
page.on("console", (m) => {
  if (m.type() === "error" && /Content Security Policy|Uncaught/.test(m.text())) problems.push(m.text());
});
page.on("pageerror", (e) => problems.push(e.message));
try {
  if (phase === "setup") await setup(page);
  else if (phase === "offboard") await offboard(page);
  else if (phase === "webhook") await webhook(page);
  else if (phase === "signin") await signin(page);
  else throw new Error(`unknown phase ${phase}`);
  await context.storageState({ path: stateFile });
  expect(problems.length === 0, `no CSP violation or script error, got: ${problems.join("\n")}`);
} catch (e) {
  console.error(`browser test failed in phase ${phase} at ${page.url()}: ${e.message}`);
  try { console.error((await page.locator("body").innerText()).slice(0, 3000)); } catch {}
  process.exitCode = 1;
} finally {
  await browser.close();
}
