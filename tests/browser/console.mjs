// The admin console in a real browser: Debian's Chromium, driven by Playwright.
// Run by tests/api/console_browser.rs, which starts the server and checks what the browser
// did from the outside. Two phases share one signed-in browser profile (storage state):
//
//   setup:   sign in as a platform admin, create an organisation, upload the IdP metadata
//            file and see its certificate, issue a SCIM token and see it once (printed as
//            TOKEN=... for the test to use);
//   offboard: find a user, deactivate it, download the event log as CSV.
//
// Configuration comes from the environment: BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD,
// STATE_FILE, and per phase METADATA_FILE, IDP_ENTITY_ID, CERT_SUBJECT / USER_NAME, CSV_FILE.
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
  await page.waitForURL(`${base}/admin/orgs/acme`);
  const text = await page.locator("main").innerText();
  expect(text.includes(env("IDP_ENTITY_ID")), `the IdP entity ID on the page:\n${text}`);
  expect(text.includes(env("CERT_SUBJECT")), `the certificate's subject on the page:\n${text}`);

  await page.locator("input[name=description]").fill("Okta provisioning");
  await page.getByRole("button", { name: "Create token" }).click();
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

const phase = process.argv[2];
const browser = await launch();
const stateFile = env("STATE_FILE");
const context = await browser.newContext(
  phase === "setup" ? { acceptDownloads: true } : { acceptDownloads: true, storageState: stateFile },
);
const page = await context.newPage();
page.setDefaultTimeout(15000);
const problems = [];
page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
try {
  if (phase === "setup") await setup(page);
  else if (phase === "offboard") await offboard(page);
  else throw new Error(`unknown phase ${phase}`);
  await context.storageState({ path: stateFile });
  // A CSP violation or a script error shows up as a console error: the console has none.
  expect(problems.length === 0, `no console errors, got: ${problems.join("\n")}`);
} catch (e) {
  console.error(`browser test failed in phase ${phase} at ${page.url()}: ${e.message}`);
  try { console.error((await page.locator("body").innerText()).slice(0, 3000)); } catch {}
  process.exitCode = 1;
} finally {
  await browser.close();
}
