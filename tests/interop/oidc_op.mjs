// An OpenID provider for the interoperability suite: oidc-provider (OpenID Certified), with
// its own built-in login and consent pages (dev interactions: any login name, any password).
//
// The login name is the account: "alice" signs in as sub "alice", preferred_username
// "alice", email "alice@example.test" (verified); a login that is already an email address
// is used as the email as it is.
//
// Two clients, both for the authorization code flow with PKCE required:
//   public-app  public (token_endpoint_auth_method none), Gatehouse organisation "pub";
//   conf-app    confidential (client_secret_basic, secret CONF_SECRET), organisations
//               "conf" and "wrong" (the latter configured in Gatehouse with a wrong secret).
//
// Every token request is logged as one line ("grant.success client=... auth=..." or
// "grant.error client=... error=..."), so the suite can check how each client authenticated.
//
// Environment: OP_PORT, GATEHOUSE_URL, CONF_SECRET.
import Provider from "oidc-provider";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const port = Number(env("OP_PORT"));
const gatehouse = env("GATEHOUSE_URL");
const callback = (org) => `${gatehouse}/oidc/${org}/callback`;

function claimsOf(login) {
  const local = login.includes("@") ? login.split("@")[0] : login;
  const email = login.includes("@") ? login : `${login}@example.test`;
  return {
    sub: login,
    email,
    email_verified: true,
    given_name: local.charAt(0).toUpperCase() + local.slice(1),
    family_name: "Tester",
    preferred_username: local,
  };
}

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: "public-app",
      token_endpoint_auth_method: "none",
      redirect_uris: [callback("pub")],
      response_types: ["code"],
      grant_types: ["authorization_code"],
    },
    {
      client_id: "conf-app",
      client_secret: env("CONF_SECRET"),
      token_endpoint_auth_method: "client_secret_basic",
      redirect_uris: [callback("conf"), callback("wrong")],
      response_types: ["code"],
      grant_types: ["authorization_code"],
    },
  ],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["given_name", "family_name", "preferred_username"],
  },
  scopes: ["openid", "email", "profile"],
  // Gatehouse reads the user from the ID token, so the scopes' claims go there too.
  conformIdTokenClaims: false,
  // PKCE for every client, confidential ones included: a relying party without it fails.
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["interop-suite-cookie-key"] },
  async findAccount(_ctx, id) {
    return { accountId: id, claims: async () => claimsOf(id) };
  },
});

// The client a failed token request named in its Basic credentials.
function basicUser(ctx) {
  const header = ctx.headers.authorization ?? "";
  if (!header.startsWith("Basic ")) return undefined;
  const decoded = Buffer.from(header.slice(6), "base64").toString();
  return decodeURIComponent(decoded.split(":")[0]);
}

provider.on("grant.success", (ctx) => {
  const { client, params } = ctx.oidc;
  console.log(
    `grant.success client=${client.clientId} auth=${client.clientAuthMethod} ` +
      `code_verifier=${params.code_verifier ? "present" : "absent"}`,
  );
});
provider.on("grant.error", (ctx, err) => {
  const client = ctx.oidc?.client?.clientId ?? basicUser(ctx) ?? ctx.oidc?.params?.client_id ?? "unknown";
  console.log(`grant.error client=${client} error=${err.error} ${err.error_description ?? ""}`);
});
provider.on("authorization.error", (_ctx, err) => {
  console.log(`authorization.error error=${err.error} ${err.error_description ?? ""}`);
});
provider.on("server_error", (_ctx, err) => {
  console.log(`server_error ${err.stack}`);
});

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}`);
});
