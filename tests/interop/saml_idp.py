"""A SAML 2.0 identity provider built on pysaml2 (saml2.server.Server), for the interop suite.

    python saml_idp.py PORT WORKDIR

Routes:
  GET  /metadata             the IdP metadata (signing certificate, HTTP-Redirect SSO endpoint)
  GET  /sso/redirect         SP-initiated: takes the AuthnRequest, shows the IdP's own login page
  GET  /start?sp=ENTITY_ID   IdP-initiated: the same login page, without a request
  POST /login                checks the password, then answers with an auto-submitting form that
                             POSTs a signed SAMLResponse (assertion and response, RSA-SHA256)
                             to the SP's ACS, with the assertion encrypted when the SP's
                             metadata publishes an encryption certificate. Each response is
                             kept in WORKDIR/saml-responses/NN-USERNAME.xml.

The SP's metadata is fetched from its entity ID (Gatehouse's default entity ID is its metadata
URL) on every login, so a change of the SP's settings is seen at once. Every user has the
password PASSWORD below; the NameID is the username (an email address).
"""

import base64
import functools
import html
import os
import re
import secrets
import subprocess
import sys
import urllib.parse
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import saml2.entity
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.samlp import authn_request_from_string
from saml2.server import Server
from saml2.sigver import RSA_OAEP_MGF1P, pre_encryption_part
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

PASSWORD = "correct horse battery staple"
XENC = "http://www.w3.org/2001/04/xmlenc#"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
AES128_CBC = XENC + "aes128-cbc"


def encryption_template(*, key_name=None, encrypt_cert=None):
    """The EncryptedData template xmlsec1 fills in: AES-128-CBC with RSA-OAEP key transport
    (pysaml2's default is 3DES, which Gatehouse refuses).

    pysaml2's own template declares the XML-DSig namespace on EncryptedData under a generated
    prefix (`ns1`); Gatehouse's SAML library (samael 0.0.22) only reads a KeyInfo that carries
    a literal `xmlns:ds` declaration itself, and refuses pysaml2's shape with "Failed to parse
    reduced signed SAML assertion". This template has the shape Okta sends and Gatehouse's own
    tests use (`<ds:KeyInfo xmlns:ds=...>`); SAML_IDP_STOCK_TEMPLATE=1 sends pysaml2's own
    (with AES, not 3DES) instead, to see that refusal.
    """
    if os.environ.get("SAML_IDP_STOCK_TEMPLATE"):
        return pre_encryption_part(msg_enc=AES128_CBC, key_enc=RSA_OAEP_MGF1P,
                                   key_name=key_name, encrypt_cert=encrypt_cert)
    cert = f"<ds:X509Data><ds:X509Certificate>{encrypt_cert}</ds:X509Certificate></ds:X509Data>"
    return (
        f'<xenc:EncryptedData xmlns:xenc="{XENC}" Id="ED_{secrets.token_hex(16)}" Type="{XENC}Element">'
        f'<xenc:EncryptionMethod Algorithm="{AES128_CBC}"/>'
        f'<ds:KeyInfo xmlns:ds="{DSIG}"><xenc:EncryptedKey Id="EK_{secrets.token_hex(16)}">'
        f'<xenc:EncryptionMethod Algorithm="{RSA_OAEP_MGF1P}"/>'
        f'<ds:KeyInfo>{cert if encrypt_cert else ""}</ds:KeyInfo>'
        "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
        "<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"
    )


saml2.entity.pre_encryption_part = encryption_template


def log(message):
    print(message, file=sys.stderr, flush=True)


def make_key_pair(workdir):
    key, cert = os.path.join(workdir, "idp.key"), os.path.join(workdir, "idp.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
         "-subj", "/CN=pysaml2 interop IdP", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    return key, cert


class Idp:
    def __init__(self, base, workdir):
        self.base = base
        self.key, self.cert = make_key_pair(workdir)
        self.responses = os.path.join(workdir, "saml-responses")
        os.makedirs(self.responses, exist_ok=True)
        self.sent = 0
        self.pending = {}  # login form key -> (sp entity id, AuthnRequest id or None, RelayState)

    def server(self, sp_metadata=None):
        conf = IdPConfig()
        conf.load({
            "entityid": f"{self.base}/metadata",
            "service": {"idp": {
                "name": "pysaml2 interop IdP",
                "endpoints": {"single_sign_on_service": [(f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT)]},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "want_authn_requests_signed": False,
                "sign_response": True,
                "sign_assertion": True,
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC}},
            }},
            "key_file": self.key,
            "cert_file": self.cert,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "metadata": {"inline": [sp_metadata]} if sp_metadata else {},
        })
        server = Server(config=conf)
        # The session key to match (pysaml2's default is a 3DES key).
        server.sec.encrypt_assertion = functools.partial(server.sec.encrypt_assertion, key_type="aes-128")
        return server

    def metadata(self):
        return create_metadata_string(None, config=self.server().config, valid=None).decode()

    @staticmethod
    def sp_metadata(entity_id):
        with urllib.request.urlopen(entity_id, timeout=10) as r:
            return r.read().decode()

    def authn_request(self, saml_request, relay_state):
        # The request's issuer names the SP; its metadata is read before the request is.
        xml = zlib.decompress(base64.b64decode(saml_request), -15)
        sp = authn_request_from_string(xml).issuer.text
        req = self.server(self.sp_metadata(sp)).parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        log(f"AuthnRequest {req.message.id} from {sp}")
        return self.remember(sp, req.message.id, relay_state)

    def remember(self, sp, request_id, relay_state):
        key = secrets.token_urlsafe(16)
        self.pending[key] = (sp, request_id, relay_state)
        return key

    def respond(self, key, username):
        sp, request_id, relay_state = self.pending.pop(key)
        server = self.server(self.sp_metadata(sp))
        acs = server.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"]
        enc_certs = server.metadata.certs(sp, "spsso", "encryption")
        local = username.split("@")[0]
        identity = {"email": [username], "firstName": [local.capitalize()], "lastName": ["Interop"]}
        response = server.create_authn_response(
            identity,
            in_response_to=request_id,
            destination=acs,
            sp_entity_id=sp,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=username),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_response=True,
            sign_assertion=True,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            encrypt_assertion=bool(enc_certs),
            encrypt_cert_assertion=enc_certs[0][1] if enc_certs else None,
        )
        xml = str(response)
        # Said from what is sent, not from what was asked: no assertion in the clear.
        encrypted = "EncryptedAssertion" in xml and not re.search(r"<(\w+:)?Assertion[\s>]", xml)
        kind = "encrypted assertion sent" if encrypted else "plain assertion sent"
        log(f"{kind}: {username} to {acs} (InResponseTo {request_id})")
        # Every response is kept, so that a failing flow can show what was sent.
        self.sent += 1
        with open(os.path.join(self.responses, f"{self.sent:02d}-{username}.xml"), "w") as f:
            f.write(xml)
        return acs, base64.b64encode(xml.encode()).decode(), relay_state


def page(title, body):
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"</head><body>{body}</body></html>").encode()


def login_page(key, error=""):
    err = f"<p id='error'>{html.escape(error)}</p>" if error else ""
    return page("pysaml2 IdP sign-in", f"""<h1>pysaml2 IdP</h1>{err}
<form method="post" action="/login">
<input type="hidden" name="key" value="{html.escape(key)}">
<label>Username <input name="username" id="username"></label>
<label>Password <input type="password" name="password" id="password"></label>
<button type="submit">Sign in to the IdP</button>
</form>""")


def post_page(acs, saml_response, relay_state):
    relay = (f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
             if relay_state else "")
    return page("Redirecting", f"""<form method="post" action="{html.escape(acs)}" id="saml">
<input type="hidden" name="SAMLResponse" value="{saml_response}">{relay}
<noscript><button type="submit">Continue</button></noscript></form>
<script>document.getElementById("saml").submit();</script>""")


class Handler(BaseHTTPRequestHandler):
    idp = None

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        try:
            if url.path == "/metadata":
                self.send(200, self.idp.metadata().encode(), "application/samlmetadata+xml")
            elif url.path == "/sso/redirect":
                key = self.idp.authn_request(q["SAMLRequest"], q.get("RelayState", ""))
                self.send(200, login_page(key))
            elif url.path == "/start":
                log(f"IdP-initiated login for {q['sp']}")
                self.send(200, login_page(self.idp.remember(q["sp"], None, q.get("RelayState", ""))))
            else:
                self.send(404, page("Not found", "<p>Not found</p>"))
        except Exception as e:  # noqa: BLE001 - the suite needs to see what went wrong
            log(f"error on GET {self.path}: {e!r}")
            self.send(400, page("Error", f"<pre>{html.escape(repr(e))}</pre>"))

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        try:
            if self.path != "/login" or form.get("key") not in self.idp.pending:
                self.send(400, page("Error", "<p>No such login in progress</p>"))
            elif form.get("password") != PASSWORD or not form.get("username"):
                self.send(200, login_page(form["key"], "Wrong username or password"))
            else:
                self.send(200, post_page(*self.idp.respond(form["key"], form["username"])))
        except Exception as e:  # noqa: BLE001
            log(f"error on POST {self.path}: {e!r}")
            self.send(500, page("Error", f"<pre>{html.escape(repr(e))}</pre>"))

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))


def main():
    port, workdir = int(sys.argv[1]), sys.argv[2]
    Handler.idp = Idp(f"http://127.0.0.1:{port}", workdir)
    log(f"pysaml2 IdP on http://127.0.0.1:{port}")
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
