// SAML with pysaml2 as the IdP (tests/interop/saml_idp.py), in Debian's Chromium driven by
// Playwright. Run by parts/saml.sh, which starts Gatehouse and the IdP, imports the IdP's
// metadata with the CLI and issues a SCIM token. The flows:
//
//   1. SP-initiated: /saml/acme/login?return_to=/me -> the IdP's login page -> /me;
//   2. IdP-initiated: the IdP's /start -> its login page -> Gatehouse's /me;
//   3. encrypted assertion: saml_encrypted_assertions=true, then an SP-initiated login, and
//      the IdP's log shows it encrypted;
//   4. the open page of a signed-in user: a SCIM PATCH deactivates the user, the next
//      request (a reload of /me) is refused;
//   5. lifecycle: a user pushed by SCIM signs in by SAML and is linked, not duplicated;
//      deactivated by SCIM it is refused at login; reactivated it signs in again.
//
// Environment: GBASE, IDP_BASE, IDP_LOG, IDP_PASSWORD, TOKEN, BIN (the gatehouse CLI, which
// reads the same GATEHOUSE_* environment as the server).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const gbase = env("GBASE");
const idpBase = env("IDP_BASE");
const token = env("TOKEN");
const spEntity = `${gbase}/saml/acme/metadata`;

function fail(what, details) {
  const error = new Error(`expected ${what}\n${details}`);
  error.details = true;
  throw error;
}

function cli(...args) {
  try {
    return execFileSync(env("BIN"), args, { encoding: "utf8" });
  } catch (e) {
    fail(`\`gatehouse ${args.join(" ")}\` to succeed`, `stdout:\n${e.stdout}\nstderr:\n${e.stderr}`);
  }
}

// A SCIM request; any status but the expected one fails with the request and the answer.
async function scim(method, path, body, expected) {
  const url = `${gbase}/scim/v2/acme${path}`;
  const res = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/scim+json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== expected) {
    fail(`${method} ${url} to answer ${expected}`,
      `sent: ${body === undefined ? "(no body)" : JSON.stringify(body)}\nreceived: ${res.status}\n${text}`);
  }
  return text ? JSON.parse(text) : null;
}

const setActive = (id, active) => scim("PATCH", `/Users/${id}`, {
  schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  Operations: [{ op: "replace", value: { active } }],
}, 200);

async function usersNamed(userName) {
  const filter = encodeURIComponent(`userName eq "${userName}"`);
  return (await scim("GET", `/Users?filter=${filter}`, undefined, 200)).Resources ?? [];
}

// What the page shows, for failure messages.
async function describe(page, response) {
  const status = response ? response.status() : "(no response)";
  let text = "";
  try { text = await page.locator("body").innerText(); } catch { text = await page.content(); }
  return `at ${page.url()}, status ${status}:\n${text}`;
}

// On the IdP's own login page: signs in there and follows its auto-submitting form.
async function signInAtIdp(page, userName, landing) {
  const form = page.locator("#username");
  await form.waitFor({ timeout: 10000 }).catch(async () => {
    fail("pysaml2's login page", await describe(page, null));
  });
  if (!page.url().startsWith(idpBase)) fail(`to be on the IdP (${idpBase})`, await describe(page, null));
  await form.fill(userName);
  await page.locator("#password").fill(env("IDP_PASSWORD"));
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${gbase}/saml/acme/acs`), { timeout: 15000 })
      .catch(() => null),
    page.getByRole("button", { name: "Sign in to the IdP" }).click(),
  ]);
  await page.waitForLoadState("load");
  if (landing && !page.url().startsWith(landing)) {
    const acs = response ? `the ACS answered ${response.status()}` : "no answer from the ACS";
    fail(`to land on ${landing} (${acs})`, await describe(page, response));
  }
  return response;
}

async function expectMe(page, userName) {
  const text = await page.locator("body").innerText();
  if (!text.includes(userName)) fail(`/me to show ${userName}`, await describe(page, null));
  const res = await page.request.get(`${gbase}/me`, { headers: { Accept: "application/json" } });
  const body = await res.text();
  if (res.status() !== 200) fail("GET /me (JSON) to answer 200", `received: ${res.status()}\n${body}`);
  const me = JSON.parse(body);
  if (me.userName !== userName) fail(`/me's userName to be ${userName}`, body);
  return me;
}

async function spInitiated(browser, userName, landing = `${gbase}/me`) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${gbase}/saml/acme/login?return_to=/me`);
  await signInAtIdp(page, userName, landing);
  return page;
}

function idpLogCount(kind) {
  return readFileSync(env("IDP_LOG"), "utf8").split("\n").filter((l) => l.startsWith(kind)).length;
}

const step = (name) => console.log(`-- ${name}`);

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    step("SP-initiated login through pysaml2's login page");
    const alicePage = await spInitiated(browser, "alice@acme.test");
    const alice = await expectMe(alicePage, "alice@acme.test");
    if (idpLogCount("plain assertion sent") !== 1) fail("one plain assertion in the IdP's log", "");
    {
      // The attributes pysaml2 sent (email, firstName, lastName) made the user.
      const [user] = await usersNamed("alice@acme.test");
      const ok = user && user.id === alice.id && user.name?.givenName === "Alice"
        && user.name?.familyName === "Interop" && user.emails?.some((e) => e.value === "alice@acme.test");
      if (!ok) fail("alice's SCIM record to carry the asserted attributes", JSON.stringify(user, null, 2));
    }

    step("IdP-initiated login");
    {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${idpBase}/start?sp=${encodeURIComponent(spEntity)}`);
      await signInAtIdp(page, "bob@acme.test", `${gbase}/me`);
      await expectMe(page, "bob@acme.test");
    }

    step("encrypted assertion");
    cli("org", "set", "acme", "saml_encrypted_assertions=true");
    {
      const before = idpLogCount("encrypted assertion sent");
      const page = await spInitiated(browser, "carol@acme.test");
      await expectMe(page, "carol@acme.test");
      if (idpLogCount("encrypted assertion sent") !== before + 1) {
        fail("the IdP to log \"encrypted assertion sent\"", readFileSync(env("IDP_LOG"), "utf8"));
      }
    }

    step("SCIM deactivation ends the open page's session");
    {
      await alicePage.reload();
      await expectMe(alicePage, "alice@acme.test");
      await setActive(alice.id, false);
      const response = await alicePage.reload();
      const text = await alicePage.locator("body").innerText();
      if (response.status() !== 401 || !text.includes("Not signed in")) {
        fail("the reload of /me to be refused (401, \"Not signed in\")", await describe(alicePage, response));
      }
    }

    step("lifecycle: SCIM first, then SAML; deactivated; reactivated");
    {
      const userName = "dave@acme.test";
      const created = await scim("POST", "/Users", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName,
        name: { givenName: "Dave", familyName: "Scim" },
        emails: [{ value: userName, type: "work", primary: true }],
        active: true,
      }, 201);

      const page = await spInitiated(browser, userName);
      const me = await expectMe(page, userName);
      if (me.id !== created.id) fail(`the SAML login linked to the SCIM user ${created.id}`, JSON.stringify(me));
      const found = await usersNamed(userName);
      if (found.length !== 1 || found[0].id !== created.id) {
        fail(`exactly one user ${userName} with id ${created.id}`, JSON.stringify(found, null, 2));
      }

      await setActive(created.id, false);
      const refused = await spInitiated(browser, userName, null);
      const text = await refused.locator("body").innerText();
      if (refused.url().startsWith(`${gbase}/me`) || !text.includes("account is deactivated")) {
        fail("the SAML login of a deactivated user to be refused", await describe(refused, null));
      }

      await setActive(created.id, true);
      const again = await spInitiated(browser, userName);
      const back = await expectMe(again, userName);
      if (back.id !== created.id) fail(`the same user ${created.id} after reactivation`, JSON.stringify(back));
      if ((await usersNamed(userName)).length !== 1) fail(`still one user ${userName}`, "");
    }
    console.log("saml flows: all passed");
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`saml flows FAILED: ${e.details ? e.message : e.stack}`);
  process.exit(1);
});
