// OpenID Connect in a real browser (Debian's Chromium, driven by Playwright) against
// oidc-provider (oidc_op.mjs), and the user's lifecycle across the SCIM and OIDC doors.
// Run by parts/oidc.sh, which starts both servers and configures three organisations:
//   pub    the public client (PKCE alone),
//   conf   the confidential client with its secret,
//   wrong  the confidential client with a wrong secret (the token step must fail).
//
// Environment: BASE_URL (Gatehouse), OP_URL, OP_LOG (the provider's log file), SCIM_TOKEN
// (a token of "pub").
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("BASE_URL");
const opUrl = env("OP_URL");
const scimToken = env("SCIM_TOKEN");

// What was sent and received, printed when a check fails.
const transcript = [];
function note(entry) {
  transcript.push(entry);
  if (transcript.length > 30) transcript.shift();
}

class Failure extends Error {}
function expect(condition, what) {
  if (!condition) throw new Failure(`expected ${what}`);
}

// ---------- SCIM, from outside the browser ----------

async function scim(method, path, body) {
  const url = `${base}/scim/v2/pub${path}`;
  const headers = { Authorization: `Bearer ${scimToken}`, Accept: "application/scim+json" };
  if (body) headers["Content-Type"] = "application/scim+json";
  const response = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
  const text = await response.text();
  note(`SCIM ${method} ${url}\n  sent: ${body ? JSON.stringify(body) : "(no body)"}\n  got: ${response.status} ${text}`);
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function usersNamed(userName) {
  const filter = encodeURIComponent(`userName eq "${userName}"`);
  const { status, body } = await scim("GET", `/Users?filter=${filter}`);
  expect(status === 200, `200 from the SCIM filter on ${userName}, got ${status}`);
  return body.Resources ?? [];
}

async function setActive(id, active) {
  const { status, body } = await scim("PATCH", `/Users/${id}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { active } }],
  });
  expect(status === 200 && body.active === active, `the PATCH to set active=${active} to answer 200 with it`);
}

// ---------- the browser ----------

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

// A fresh browser profile: no session at Gatehouse nor at the provider. Only the two
// loopback servers are reachable (the provider's page imports a web font).
async function freshPage(browser) {
  const context = await browser.newContext();
  context.setDefaultTimeout(15000);
  await context.route("**/*", (route) =>
    new URL(route.request().url()).hostname === "127.0.0.1" ? route.continue() : route.abort(),
  );
  const page = await context.newPage();
  page.on("response", (r) => {
    const url = r.url();
    if (url.includes("/favicon")) return;
    note(`browser ${r.request().method()} ${url} -> ${r.status()} ${r.headers().location ?? ""}`);
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) lastNavigation.set(page, r);
  });
  return page;
}

// The last response of each page's main frame: the status of the page it shows.
const lastNavigation = new WeakMap();

async function pageText(page) {
  return page.locator("body").innerText().catch(() => "(no page)");
}

// Starts at Gatehouse's /oidc/{org}/login, signs in on the provider's own login page (and
// consents on its consent page), and returns where the browser lands back at Gatehouse.
async function oidcLogin(page, org, login) {
  await page.goto(`${base}/oidc/${org}/login?return_to=/me`);
  expect(page.url().startsWith(`${opUrl}/interaction/`), `the provider's login page, at ${page.url()}`);
  expect((await page.locator("h1").innerText()) === "Sign-in", "the provider's Sign-in page");
  await page.locator("input[name=login]").fill(login);
  await page.locator("input[name=password]").fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  const consent = page.getByRole("button", { name: "Continue" });
  let consented = false;
  for (let i = 0; !page.url().startsWith(`${base}/`); i++) {
    expect(i < 150, `the browser back at Gatehouse within 15 s, still at ${page.url()}:\n${await pageText(page)}`);
    if (!consented && (await consent.count().catch(() => 0))) {
      await consent.click();
      consented = true;
    }
    await page.waitForTimeout(100);
  }
  await page.waitForLoadState();
  const last = lastNavigation.get(page);
  return { status: last?.status(), url: page.url(), text: await pageText(page) };
}

// /me as JSON with the browser profile's cookies (the page's CSP forbids fetch from it).
async function meJson(page) {
  const r = await page.context().request.get(`${base}/me`, { headers: { Accept: "application/json" } });
  return { status: r.status(), body: await r.text() };
}

async function expectSignedIn(page, landed, userName, org) {
  expect(landed.status === 200 && landed.url === `${base}/me`, `/me with 200, got ${landed.status} at ${landed.url}:\n${landed.text}`);
  expect(landed.text.includes("You are signed in") && landed.text.includes(userName), `/me to show ${userName}:\n${landed.text}`);
  const me = await meJson(page);
  note(`browser GET /me (Accept: application/json) -> ${me.status} ${me.body}`);
  expect(me.status === 200, `/me as JSON to answer 200, got ${me.status} ${me.body}`);
  const body = JSON.parse(me.body);
  expect(body.userName === userName && body.org === org, `user ${userName} of ${org}, got ${me.body}`);
  return body;
}

function opLog() {
  return readFileSync(env("OP_LOG"), "utf8");
}

// ---------- the checks ----------

async function publicClient(browser) {
  const page = await freshPage(browser);
  const landed = await oidcLogin(page, "pub", "alice");
  const me = await expectSignedIn(page, landed, "alice", "pub");
  expect(me.email === "alice@example.test", `the email from the ID token, got ${JSON.stringify(me)}`);
  expect(
    opLog().includes("grant.success client=public-app auth=none code_verifier=present"),
    `the provider to log a token grant to the public client with a PKCE verifier:\n${opLog()}`,
  );
  // The provider would refuse an authorization request without PKCE.
  const url = `${opUrl}/auth?client_id=public-app&response_type=code&scope=openid&state=s&redirect_uri=${encodeURIComponent(`${base}/oidc/pub/callback`)}`;
  const r = await fetch(url, { redirect: "manual" });
  const location = r.headers.get("location") ?? "";
  note(`GET ${url} -> ${r.status} ${location}`);
  expect(location.includes("error=invalid_request") && location.includes("PKCE"), `the provider to refuse a request without PKCE, got ${r.status} ${location}`);
  console.log("ok: public client with PKCE signs in through the provider's own page and lands on /me");
  return page;
}

async function confidentialClient(browser) {
  const page = await freshPage(browser);
  const landed = await oidcLogin(page, "conf", "bob");
  await expectSignedIn(page, landed, "bob", "conf");
  expect(
    opLog().includes("grant.success client=conf-app auth=client_secret_basic code_verifier=present"),
    `the provider to log a token grant to the confidential client authenticated by client_secret_basic:\n${opLog()}`,
  );
  await page.context().close();

  // The same client with a wrong secret: the provider refuses the token request.
  const wrong = await freshPage(browser);
  const refused = await oidcLogin(wrong, "wrong", "bob");
  expect(refused.status >= 400 && refused.text.includes("could not be completed"), `a refusal page, got ${refused.status} at ${refused.url}:\n${refused.text}`);
  expect(opLog().includes("grant.error client=conf-app error=invalid_client"), `the provider to refuse the wrong secret:\n${opLog()}`);
  const me = await meJson(wrong);
  expect(me.status === 401, `no session after the refused login, got ${me.status} ${me.body}`);
  await wrong.context().close();
  console.log("ok: confidential client signs in with its secret (client_secret_basic); a wrong secret fails at the token step");
}

async function deactivationEndsTheOpenPage(page) {
  const [alice] = await usersNamed("alice");
  expect(alice, "alice in SCIM after her first login");
  await setActive(alice.id, false);
  const response = await page.reload();
  const text = await pageText(page);
  note(`browser reload ${page.url()} -> ${response.status()}`);
  expect(response.status() === 401 && text.includes("Not signed in"), `the reloaded /me to be refused with 401 "Not signed in", got ${response.status()}:\n${text}`);
  await page.context().close();
  console.log("ok: a SCIM PATCH active=false refuses the open page's next request");
}

async function lifecycle(browser) {
  const userName = "carol@example.test";
  const created = await scim("POST", "/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName,
    name: { givenName: "Carol", familyName: "Tester" },
    emails: [{ value: userName, type: "work", primary: true }],
    active: true,
  });
  expect(created.status === 201, `201 from the SCIM create, got ${created.status}`);
  const id = created.body.id;

  let page = await freshPage(browser);
  let me = await expectSignedIn(page, await oidcLogin(page, "pub", "carol"), userName, "pub");
  expect(me.id === id, `the OIDC login linked to the SCIM user ${id}, got ${JSON.stringify(me)}`);
  const same = await usersNamed(userName);
  expect(same.length === 1 && same[0].id === id, `one user ${userName} with id ${id}, got ${JSON.stringify(same)}`);
  expect((await usersNamed("carol")).length === 0, "no second user named by preferred_username");
  await page.context().close();

  await setActive(id, false);
  page = await freshPage(browser);
  const refused = await oidcLogin(page, "pub", "carol");
  expect(refused.status >= 400 && refused.text.includes("deactivated"), `a page saying the account is deactivated, got ${refused.status} at ${refused.url}:\n${refused.text}`);
  const after = await meJson(page);
  expect(after.status === 401, `no session for a deactivated user, got ${after.status} ${after.body}`);
  await page.context().close();

  await setActive(id, true);
  page = await freshPage(browser);
  me = await expectSignedIn(page, await oidcLogin(page, "pub", "carol"), userName, "pub");
  expect(me.id === id, `the reactivated user ${id} signed in again, got ${JSON.stringify(me)}`);
  expect((await usersNamed(userName)).length === 1, "still one user");
  await page.context().close();
  console.log("ok: a SCIM user signs in by OIDC and is linked; deactivated it is refused; reactivated it signs in again");
}

const browser = await launch();
try {
  const alicePage = await publicClient(browser);
  await confidentialClient(browser);
  await deactivationEndsTheOpenPage(alicePage);
  await lifecycle(browser);
} catch (error) {
  console.error(`oidc_flows: FAILED: ${error instanceof Failure ? error.message : error.stack}`);
  console.error("== what was sent and received (last exchanges) ==");
  for (const entry of transcript) console.error(entry);
  process.exitCode = 1;
} finally {
  await browser.close();
}
